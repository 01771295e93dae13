"""One look for every chart: a plotly template, and the same colour for a tier or stage everywhere."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from analytics.rules import ALL_TIERS, STAGES, RuleSet, tiers_of
from analytics.schema import FUNNEL_STAGES
from ui.cache import active_rules
from ui.i18n import term

TIER_COLOURS = dict(zip(ALL_TIERS, ("#8FB3C7", "#6FBF9A", "#3E7CB1", "#1B4F72", "#C9A227")))
STAGE_COLOURS = dict(zip(STAGES, ("#6BAED6", "#2CA25F", "#A6A6A6", "#F28E2B", "#C0392B")))
FUNNEL_COLOURS = dict(zip(FUNNEL_STAGES, ("#C6DBEF", "#9ECAE1", "#6BAED6", "#4292C6", "#2171B5", "#08519C")))
SERIES = ("#1B4F72", "#C9A227", "#2CA25F", "#C0392B", "#8E44AD", "#F28E2B", "#3E7CB1", "#7F8C8D")
# the churn rate by branch: the highest in warm colours, the lowest in cool ones, the rest muted
HIGHEST = ("#C0392B", "#F28E2B", "#C9A227")
LOWEST = ("#2CA25F", "#3E7CB1", "#8E44AD")
MUTED = "#CBD2D9"
INK = "#1F2933"  # the text colour, also on a muted line's hover
TARGET = "#C0392B"
BAND = "rgba(62, 124, 177, 0.18)"

# Merged once here: a "plotly_white+bankcrm" default would merge the two on every figure drawn.
pio.templates["bankcrm"] = pio.templates.merge_templates(pio.templates["plotly_white"], go.layout.Template(layout=go.Layout(
    colorway=SERIES,
    font=dict(family="Inter, 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'Microsoft YaHei', sans-serif", size=13,
              color=INK),
    title=dict(font=dict(size=15), x=0, xanchor="left"),
    margin=dict(l=10, r=10, t=40, b=10),
    legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, title_text=""),
    hoverlabel=dict(font_size=12),
    xaxis=dict(showgrid=False),
    yaxis=dict(gridcolor="#E5E8EB", zerolinecolor="#C9CED3"),
)))
pio.templates.default = "bankcrm"


def colours(kind: str) -> dict[str, str]:
    """Colours keyed by the names shown in the current language, for `color_discrete_map`."""
    table = {"tier": TIER_COLOURS, "stage": STAGE_COLOURS, "funnel": FUNNEL_COLOURS}[kind]
    return {term(kind, code): colour for code, colour in table.items()}


def order(kind: str, *rule_sets: RuleSet) -> list[str]:
    """The codes of `kind` in their natural order, as shown, for `category_orders`. Tiers are those of the active
    rule set (of `rule_sets`, when a chart compares them): a tier it does not use would leave an empty slot."""
    if kind == "tier":
        codes = tiers_of(*rule_sets or (active_rules(),))
    else:
        codes = {"stage": STAGES, "funnel": FUNNEL_STAGES}[kind]
    return [term(kind, code) for code in codes]
