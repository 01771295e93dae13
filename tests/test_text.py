"""Text from a link, a bank's file or a person is shown as text: never read as markdown by Streamlit, never as
HTML by plotly, and it reads exactly as typed, in English and Chinese."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pandas as pd
import plotly.express as px
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import i18n
from auth.users import DEMO_USERS_FILE, UsersFile
from ui import charts
from ui import i18n as ui_i18n
from ui.text import plain

from . import apptest
from .conftest import ROOT
from .rendering import markdown_made, plotly_made, shown_markdown, shown_plotly, unescaped_punctuation

PAYLOADS = {
    "bold": "**Session expired.** __now__ *a* _b_",
    "link": "[Sign in again](http://evil.example/login)",
    "image": "![logo](http://evil.example/i.png)",
    "bare links": "http://evil.example/a HTTPS://evil.example/b www.evil.example",
    "angle links": "<http://evil.example/c> <mail@evil.example>",
    "mail": "mail@evil.example",
    "heading": "# Heading",
    "list": "- one",
    "numbered list": "1. one",
    "quote": "> quote",
    "rule": "***",
    "code": "`code` ```fence```",
    "strikethrough": "~~gone~~",
    "table": "| a | b |",
    "icon": ":material/home: :material_home:",
    "colour": ":red[red] :blue-background[blue]",
    "emoji": ":x: :+1: :streamlit:",
    "maths": "$x^2$ $$y$$",
    "arrows": "a -> b <- c <-> d -- e >= f <= g ~= h",
    "backslashes": "back\\slash \\*not bold\\* \\",
    "entities": "&amp; &lt;b&gt; &#60;",
    "html link": '<a href="http://evil.example/h">h</a>',
    "html image": '<img src="http://evil.example/x.png" onerror="alert(1)">',
    "script": "<script>alert(1)</script>",
    "plotly markup": '<b>b</b> <span style="color:red">s</span> <br> <sup>1</sup> <i>i</i>',
    "chinese": "张*三 李_四_ 王**五** 【赵】",
}
ISSUE_LINK_CUSTOMER = "1 **Session expired.** [Sign in again](http://evil.example/login)"
PAYLOAD = ('张*三 **B** [L](http://evil.example/l) ![I](http://evil.example/i.png) '
           '<a href="http://evil.example/h">H</a>')


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS)
def test_plain_text_reads_as_typed_and_makes_nothing_in_markdown(payload):
    source = plain(payload)
    assert markdown_made(source) == []
    assert unescaped_punctuation(source) == []  # so no syntax extension (:red[..], $..$) can open
    assert shown_markdown(source) == payload


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS)
def test_a_message_keeps_its_own_markdown_around_plain_text(payload):
    source = f"Customer **{plain(payload)}**: not found"
    assert markdown_made(source) == ["strong"]
    assert shown_markdown(source) == f"Customer {payload}: not found"


def test_a_value_cannot_end_its_line_of_the_message():
    source = "Note: " + plain("first\n# second\r\n- third")
    assert markdown_made(source) == []
    assert shown_markdown(source) == "Note: first # second - third"


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from("\n\r\t")))
def test_any_text_reads_as_typed_inside_a_message(value):
    source = f"a {plain(value)} b"
    assert markdown_made(source) == [] and unescaped_punctuation(plain(value)) == []
    assert shown_markdown(source) == "a " + re.sub(r"\r\n|\r|\n", " ", value) + " b"


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_a_message_shows_its_values_as_text_in_both_languages(monkeypatch, lang):
    monkeypatch.setattr(ui_i18n, "lang", lambda: lang)
    refusal = ui_i18n.t("portfolio.not_found", customer_id=ISSUE_LINK_CUSTOMER)
    assert markdown_made(refusal) == []
    assert shown_markdown(refusal) == i18n.t("portfolio.not_found", lang, customer_id=ISSUE_LINK_CUSTOMER)
    windows = ui_i18n.t("model.windows", version=PAYLOAD, trained="2024-01-31", trained_to="2025-01-31",
                        validated="2025-02-28", validated_to="2025-06-30", horizon=3, rows="1,000",
                        validation_rows="-5")
    assert markdown_made(windows) == ["strong"]  # the message's own bold, around the version
    assert PAYLOAD in shown_markdown(windows) and "-5" in shown_markdown(windows)


def test_a_message_for_a_place_without_markdown_keeps_its_values_as_they_are(monkeypatch):
    monkeypatch.setattr(ui_i18n, "lang", lambda: "en")
    assert ui_i18n.message("model.at_training", month="2026-05-31") == "at training (2026-05-31)"


def test_no_message_puts_a_value_inside_code():
    """Markdown reads no backslash escape inside `code`: a value there would show its escapes."""
    for key, texts in i18n.TEXT.items():
        for text in texts:
            assert not [code for code in re.findall(r"`[^`]*`", text) if "{" in code], key


@contextlib.contextmanager
def drawn() -> Iterator[list]:
    """The figures ui.charts hands to Streamlit meanwhile."""
    with mock.patch.object(charts.st, "plotly_chart") as plotly_chart:
        yield (figures := [])
    figures.extend(call.args[0] for call in plotly_chart.call_args_list)


def strings(value, key=""):
    """Every (key, text) in a figure's JSON, its plotly template (ours) aside."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "template":
                yield from strings(v, k)
    elif isinstance(value, list | tuple) or hasattr(value, "tolist"):
        for v in (value.tolist() if hasattr(value, "tolist") else value):
            yield from strings(v, key)


def test_a_chart_shows_every_text_from_the_data_as_typed_and_draws_no_markup():
    names = list(PAYLOADS.values())
    frame = pd.DataFrame({"name": names, "customers": range(len(names)), "code": names})
    with drawn() as figures:
        charts.chart(px.bar(frame, x="name", y="customers", color="name", text="name", hover_data=["code"]), key="k",
                     y="count")
        charts.drillable(px.line(frame, x="customers", y="customers", color="name", custom_data=["code"]), key="d",
                         x="count", y="count")
    for figure in figures:
        spec = figure.to_plotly_json()
        for key, text in strings(spec):
            assert plotly_made(text) == (["br"] * text.count("<br>") if key.endswith("template") else []), text
        assert [shown_plotly(trace["name"]) for trace in spec["data"]] == names  # legend entries
    bars = figures[0].to_plotly_json()["data"]
    assert [shown_plotly(trace["x"][0]) for trace in bars] == names  # axis labels
    assert [shown_plotly(trace["text"][0]) for trace in bars] == names
    assert [shown_plotly(trace["customdata"][0][0]) for trace in bars] == names  # hover's code=...


@settings(deadline=None)  # a figure takes a while to build on a busy machine
@given(st.text())
def test_a_click_on_a_chart_returns_the_value_the_data_held(value):
    with drawn() as figures:
        charts.drillable(px.bar(pd.DataFrame({"x": [value], "y": [1]}), x="x", y="y", custom_data=["x"]), key="k",
                         y="count")
    sent = figures[0].to_plotly_json()["data"][0]["customdata"][0][0]
    assert charts.clicked({"selection": {"points": [{"customdata": [sent]}]}}) == value


def test_pages_draw_charts_only_through_ui_charts():
    """ui.charts shows a figure's text as text: a page drawing a figure itself could forget to."""
    for file in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        assert "plotly_chart(" not in file.read_text(), file.name


# The app under AppTest: text from a link and from the users file.

def shown_as_text(sources: list[str], text: str) -> bool:
    """One of the markdown `sources` shows `text` as typed, and none makes a link, image or other element."""
    assert [made for source in sources if (made := markdown_made(source))] == []
    return any(text in shown_markdown(source) for source in sources)


def test_the_issue_s_portfolio_link_shows_its_customer_as_text(app_env):
    at = apptest.open_page(apptest.sign_in(apptest.app(), "head_sh01"), "portfolio")
    at.query_params["customer"] = ISSUE_LINK_CUSTOMER
    at.run()
    assert not at.exception
    assert shown_as_text([e.value for e in at.error], f"Customer {ISSUE_LINK_CUSTOMER} is not in your scope.")


def test_a_link_s_branch_and_relationship_manager_are_shown_as_text(app_env):
    at = apptest.open_page(apptest.sign_in(apptest.app(), "head_sh01"), "portfolio")
    at.query_params.update({"branch": PAYLOAD, "rm": PAYLOAD})
    at.run()
    assert not at.exception
    assert shown_as_text([s.value for s in at.subheader], f"Customers of {PAYLOAD}")
    assert shown_as_text([b.label for b in at.button], f"Back to {PAYLOAD}")


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_a_filter_value_in_a_link_is_shown_as_text_in_the_notice(app_env, lang):
    at = apptest.app()
    at.query_params.update({"tiers": PAYLOAD, "lang": lang})
    at = apptest.sign_in(at, "exec")
    assert not at.exception
    assert shown_as_text([w.value for w in at.sidebar.warning], f"unknown '{PAYLOAD}'")


def test_a_display_name_from_the_users_file_is_shown_as_text(app_env, tmp_path, monkeypatch):
    users = UsersFile(Path(tmp_path / "users.yaml"))
    users.path.write_bytes(Path(DEMO_USERS_FILE).read_bytes())
    users.add("payload", PAYLOAD, "executive", "a-long-and-private-pass")
    monkeypatch.setenv("BANKCRM_USERS", str(users.path))
    at = apptest.sign_in(apptest.app(), "payload", "a-long-and-private-pass")
    assert not at.exception
    assert shown_as_text([c.value for c in at.sidebar.caption], f"{PAYLOAD} · Executive")


def test_why_an_account_from_the_users_file_cannot_be_used_is_shown_as_text(app_env, tmp_path, monkeypatch):
    config = yaml.safe_load(Path(DEMO_USERS_FILE).read_text())
    config["credentials"]["usernames"]["exec"]["roles"] = [PAYLOAD]  # a hand-edited file
    (tmp_path / "users.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    monkeypatch.setenv("BANKCRM_USERS", str(tmp_path / "users.yaml"))
    at = apptest.sign_in(apptest.app(), "exec")
    assert not at.exception
    assert shown_as_text([e.value for e in at.error], f"unknown role '{PAYLOAD}'")
