"""The chart formatter (ui.charts.formatted) on small figures: axes, hovers and labels in the language and unit."""

from __future__ import annotations

import re

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import pytest

from analytics import i18n
from ui.charts import formatted, sparkline_html

from .rendering import sparkline

MONTHS = pd.date_range("2025-06-30", periods=13, freq="ME")
ENGLISH_MONTH = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")
SI_UNIT = re.compile(r"\d[kKMGB]\b")


def hovers(trace, rows=None) -> list[str]:
    """Each point's hover as it reads: the trace's template with its customdata (or `rows`, a heatmap's row of
    cells) filled in."""
    template = trace.hovertemplate
    assert template and "=" not in template
    rows = trace.customdata if rows is None else rows
    return [re.sub(r"%\{customdata\[(\d+)\]\}", lambda m: str(row[int(m.group(1))]), template)
            .removesuffix("<extra></extra>") for row in rows]


def churn_rates() -> pd.DataFrame:
    return pd.DataFrame({"month": list(MONTHS) * 2, "name": ["大众"] * 13 + ["富裕"] * 13,
                         "value": [0.0107] * 26, "churned": [304] * 26, "at_start": [28499] * 26})


def test_a_chinese_money_axis_reads_in_wan_and_yi_and_an_english_one_in_cny_with_k_m_b():
    frame = pd.DataFrame({"tier": ["Mass", "Affluent", "Wealth"], "aum": [2.3e7, 3.1e8, 6.2e8]})
    for lang, unit, other in (("zh", r"[万亿]", r"[KMB]"), ("en", r"CNY [\d.,]+[KMB]", r"[万亿]")):
        figure = formatted(px.bar(frame, x="tier", y="aum", labels={"aum": "AUM"}), lang, y="cny")
        ticks = figure.layout.yaxis.ticktext
        assert ticks and len(ticks) == len(figure.layout.yaxis.tickvals)
        assert all(re.search(unit, tick) or tick == "0" for tick in ticks), ticks
        assert not any(re.search(other, tick) for tick in ticks), ticks
        assert max(figure.layout.yaxis.tickvals) >= 6.2e8 and min(figure.layout.yaxis.tickvals) <= 0  # bars fit
    zh = formatted(px.bar(frame, x="tier", y="aum"), "zh", y="cny").layout.yaxis
    assert dict(zip(zh.tickvals, zh.ticktext))[4e8] == "¥4亿"
    smaller = formatted(px.bar(frame.assign(aum=[3e7, 6e7, 1.1e8]), x="tier", y="aum"), "zh", y="cny").layout.yaxis
    assert "¥0.5亿" in smaller.ticktext and {t[-1] for t in smaller.ticktext[1:]} == {"亿"}  # one unit: the largest's


def test_a_stacked_money_axis_has_ticks_up_to_the_stack_s_top():
    figure = go.Figure([go.Scatter(x=MONTHS, y=[3e5] * 13, stackgroup="a"),
                        go.Scatter(x=MONTHS, y=[2e5] * 13, stackgroup="a")])
    assert max(formatted(figure, "zh", y="cny").layout.yaxis.tickvals) >= 5e5


def test_month_ticks_name_the_month_in_the_language_under_its_points():
    for lang, shown in (("zh", r"\d{4}年\d{1,2}月"), ("en", r"[A-Z][a-z]{2} \d{4}")):
        figure = formatted(px.line(churn_rates(), x="month", y="value", color="name"), lang, y="pct")
        axis = figure.layout.xaxis
        assert axis.ticktext and all(re.fullmatch(shown, tick) for tick in axis.ticktext), axis.ticktext
        assert 3 <= len(axis.ticktext) <= 7  # room for each on a phone
        assert axis.ticktext[-1] == ("2026年6月" if lang == "zh" else "Jun 2026")  # the as-of month is named
        # a month-end is drawn in the middle of its month (months_in_place), and its tick is there too
        june = pd.Timestamp(axis.tickvals[-1])
        assert (june.year, june.month, june.day) == (2026, 6, 16)
        assert figure.data[0].xperiodalignment == "middle"
        assert axis.ticklabeloverflow == "allow"  # the last month's label, under a point at the edge, is drawn


def test_a_hover_reads_as_words_in_the_language_with_formatted_values():
    figure = px.line(churn_rates(), x="month", y="value", color="name", custom_data=["churned", "at_start"],
                     labels={"month": "月份", "value": "流失率", "name": ""})
    formatted(figure, "zh", y="pct", more=(("col.churned", "count"), ("col.at_start", "count")))
    assert hovers(figure.data[0])[7] == "大众 · 2026年1月<br>流失率：1.07%<br>流失数：304<br>月初客户数：28,499"
    english = formatted(px.line(churn_rates(), x="month", y="value", color="name", labels={"value": "Churn rate"}),
                        "en", y="pct")
    assert hovers(english.data[1])[7] == "富裕 · Jan 2026<br>Churn rate: 1.07%"


def test_a_bar_s_text_label_stays_out_of_its_hover_and_a_click_keeps_its_key():
    frame = pd.DataFrame({"tier": ["Mass", "Wealth"], "name": ["大众", "财富"], "customers": [5678, 1234]})
    figure = px.bar(frame, x="name", y="customers", color="name", custom_data=["tier"], text=["5,678", "1,234"],
                    labels={"customers": "客户数", "name": "层级"})
    formatted(figure, "zh", y="count")
    assert hovers(figure.data[0]) == ["大众<br>客户数：5,678"]  # the name once, no "text=5,678"
    assert figure.data[0].customdata[0][0] == "Mass"  # what ui.charts.clicked reads
    assert figure.layout.yaxis.tickformat == ","  # 5,000 not 5k


def test_shares_read_as_percent_and_counts_with_separators_in_both_languages():
    frame = pd.DataFrame({"name": ["a", "b"], "share": [0.012, 0.3], "leads": [22817, 5]})
    figure = formatted(px.bar(frame, y="name", x="share", orientation="h", custom_data=["leads"],
                              labels={"share": "Conversion"}), "en", x="pct", more=(("col.leads", "count"),))
    assert figure.layout.xaxis.tickformat.endswith("%")
    assert hovers(figure.data[0]) == ["a<br>Conversion: 1.20%<br>Leads: 22,817", "b<br>Conversion: 30.00%<br>Leads: 5"]


def test_a_heatmap_hover_names_its_cell_and_value():
    figure = px.imshow([[0.25, 0.5]], x=["大众", "财富"], y=["数字化"], labels={"color": "客户占比"})
    formatted(figure, "zh", z="pct")
    assert figure.data[0].hovertemplate.startswith("%{customdata[")
    assert hovers(figure.data[0], figure.data[0].customdata[0]) == ["大众 · 数字化<br>客户占比：25.00%",
                                                                    "财富 · 数字化<br>客户占比：50.00%"]


def test_a_chart_must_say_the_unit_of_an_axis_of_numbers():
    with pytest.raises(ValueError, match="y axis"):
        formatted(px.line(churn_rates(), x="month", y="value"), "zh")


def test_no_english_month_or_si_unit_is_left_in_a_chinese_chart():
    figure = formatted(px.bar(pd.DataFrame({"month": MONTHS, "aum": [22817e5] * 13}), x="month", y="aum"), "zh",
                       y="cny")
    texts = [*figure.layout.xaxis.ticktext, *figure.layout.yaxis.ticktext, *hovers(figure.data[0])]
    assert not [t for t in texts if ENGLISH_MONTH.search(t) or SI_UNIT.search(t)], texts


def test_a_sparkline_says_each_month_in_words_and_shows_its_text_as_text():
    label = '<img src=x onerror=alert(1)> & "NPS"'  # as if a name held markup: it reads as written, making nothing
    drawn = sparkline(sparkline_html(MONTHS[:3], [0.5, float("nan"), 0.25], label, "pct", 0.4, "zh"))
    assert drawn.label == label
    assert drawn.words == [["2025年6月", i18n.t("chart.value", "zh", label=label, value="50.00%")],
                           ["2025年7月", i18n.t("chart.value", "zh", label=label, value="–")],
                           ["2025年8月", i18n.t("chart.value", "zh", label=label, value="25.00%")]]
    assert drawn.tags.count("img") == 1 and set(drawn.tags) <= {"style", "div", "img", "ol", "li", "i", "span", "br"}
    assert "NPS" not in drawn.image and "<text" not in drawn.image  # the image holds lines only
    assert "stroke-dasharray" in drawn.image  # the target


def test_a_sparkline_draws_its_months_left_to_right_higher_values_higher():
    drawn = sparkline(sparkline_html(MONTHS[:4], [10, 30, 20, 40], "Customers", "count", None, "en"))
    [points] = re.findall(r'points="([^"]+)"', drawn.image)
    xy = [tuple(map(float, point.split(","))) for point in points.split()]
    assert len(xy) == 4 and [x for x, _ in xy] == sorted(x for x, _ in xy)
    heights = [-y for _, y in xy]  # SVG's y grows downwards
    assert sorted(range(4), key=lambda i: heights[i]) == [0, 2, 1, 3]
    assert "stroke-dasharray" not in drawn.image  # no target, no line for it
    assert drawn.words[-1] == ["Sep 2025", "Customers: 40"]
