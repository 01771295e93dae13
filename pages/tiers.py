"""Tiers: customers and AUM by tier and branch, migration between two months, products per customer."""

import plotly.express as px
import streamlit as st

from analytics import format as fmt
from analytics import tiers
from analytics.filters import period
from analytics.tags import TAGS
from ui import guard, theme
from ui.cache import active_rules, compute, filter_options
from ui.charts import chart, clicked, drillable, migration
from ui.filters import current
from ui.i18n import lang, month_names, t, term
from ui.tables import table

guard.page("tiers")

filters = current()
rules = active_rules()
st.title(t("page.tiers"))
c1, c2, c3 = (fmt.money(c, lang()) for c in rules.tier_cutoffs_cny)
st.caption(t("tiers.rules", version=rules.version, c1=c1, c2=c2, c3=c3))
shown = period(filters, filter_options().months)
summary = compute(tiers.summary, filters) if shown else None
if summary is None or summary.customers.sum() == 0:
    st.info(t("empty"))
    st.stop()

summary = summary.assign(name=summary.tier.map(lambda v: term("tier", v)))
st.subheader(t("tiers.summary"))
left, right = st.columns(2)
events = []
for column, value, label, unit in ((left, "customers", "col.customers", "count"), (right, "aum_cny", "col.aum", "cny")):
    figure = px.bar(summary, x="name", y=value, color="name", color_discrete_map=theme.colours("tier"),
                    custom_data=["tier"], text=summary[value].map(lambda v: fmt.BY_UNIT[unit](v, lang())), title=t(label),
                    labels={"name": t("col.tier"), value: t(label)},
                    category_orders={"name": theme.order("tier")})
    figure.update_layout(showlegend=False)
    with column:
        events.append(drillable(figure, key=f"tier_{value}", y=unit))
picked = clicked(events[0]) or clicked(events[1])
table(summary, {"tier": ("col.tier", "term:tier"), "customers": ("col.customers", "count"),
                "customers_share": ("col.share_customers", "pct1"), "aum_cny": ("col.aum", "cny"),
                "aum_share": ("col.share_aum", "pct1")}, "tiers")

drill = filters.but(tiers=(picked,)) if picked in rules.tiers else filters
if drill is not filters:
    st.info(t("tiers.selected", tier=term("tier", picked)))
else:
    st.caption(t("click_to_drill"))

st.subheader(t("tiers.by_branch"))
by_branch = compute(tiers.by_branch, drill)
by_branch = by_branch.assign(name=by_branch.tier.map(lambda v: term("tier", v)),
                             branch=by_branch["name" if lang() == "zh" else "name_en"])
left, right = st.columns(2)
for column, value, label, unit in ((left, "customers", "col.customers", "count"), (right, "aum_cny", "col.aum", "cny")):
    figure = px.bar(by_branch, y="branch", x=value, color="name", orientation="h",
                    color_discrete_map=theme.colours("tier"), category_orders={"name": theme.order("tier")},
                    labels={"branch": "", value: t(label), "name": t("col.tier")}, title=t(label))
    figure.update_layout(yaxis=dict(categoryorder="total ascending"), height=max(320, 26 * by_branch.branch.nunique()))
    with column:
        chart(figure, key=f"branch_{value}", x=unit)

st.subheader(t("tiers.migration"), help=t("tiers.migration_help"))
months = [m for m in filter_options().months if m <= shown[1]]
left, right = st.columns(2)
to_month = right.selectbox(t("tiers.to_month"), months[::-1], format_func=month_names(),
                           key="migration_to")
earlier = [m for m in months if m < to_month] or [to_month]
from_month = left.selectbox(t("tiers.from_month"), earlier[::-1], index=min(11, len(earlier) - 1),
                            format_func=month_names(), key="migration_from")
moves = compute(tiers.migration, drill, from_month, to_month)
nodes = [tiers.NEW, *rules.tiers, tiers.GONE]
migration(moves, nodes, fmt.month(from_month, lang()), fmt.month(to_month, lang()), key="migration_sankey")
node_names = [term("stage", n) if n in (tiers.NEW, tiers.GONE) else term("tier", n) for n in nodes]
table(moves.assign(from_name=[node_names[nodes.index(v)] for v in moves.from_tier],
                   to_name=[node_names[nodes.index(v)] for v in moves.to_tier]),
      {"from_name": ("col.from_tier", None), "to_name": ("col.to_tier", None), "customers": ("col.customers", "count")},
      "tier_migration")

left, right = st.columns(2)
products = compute(tiers.products, drill)
products = products[products.customers > 0].assign(name=lambda f: f.tier.map(lambda v: term("tier", v)))
with left:
    st.subheader(t("tiers.products"))
    figure = px.bar(products, x="name", y="products_per_customer", color="name",
                    color_discrete_map=theme.colours("tier"), category_orders={"name": theme.order("tier")},
                    text=products.products_per_customer.map(fmt.score),
                    labels={"name": t("col.tier"), "products_per_customer": t("col.products_per_customer")})
    figure.update_layout(showlegend=False)
    chart(figure, key="products", y="score")
    table(products, {"tier": ("col.tier", "term:tier"), "customers": ("col.customers", "count"),
                     "products_per_customer": ("col.products_per_customer", "score"),
                     "cross_sold_share": ("col.cross_sold", "pct1")}, "products_per_tier")
with right:
    st.subheader(t("tiers.lifecycle"))
    stages = compute(tiers.lifecycle, drill)
    stages = stages.assign(tier_name=stages.tier.map(lambda v: term("tier", v)),
                           stage_name=stages.stage.map(lambda v: term("stage", v)))
    figure = px.bar(stages, x="tier_name", y="share", color="stage_name", custom_data=["customers"],
                    color_discrete_map=theme.colours("stage"),
                    category_orders={"tier_name": theme.order("tier"), "stage_name": theme.order("stage")},
                    labels={"tier_name": t("col.tier"), "share": t("col.share_of_customers"), "stage_name": t("col.stage")})
    chart(figure, key="lifecycle", y="pct", more=(("col.customers", "count"),))

st.subheader(t("tiers.tags"), help=t("tiers.tags_help", version=rules.version))
prevalence = compute(tiers.tag_prevalence, drill)
prevalence = prevalence[prevalence.customers > 0]
if prevalence.empty:
    st.caption(t("empty"))
else:
    grid = prevalence.pivot(index="tag", columns="tier", values="share")
    grid = grid.reindex(index=[tag for tag in TAGS if tag in grid.index],
                        columns=[name for name in rules.tiers if name in grid.columns])
    figure = px.imshow(grid.to_numpy(), x=[term("tier", v) for v in grid.columns], y=[term("tag", v) for v in grid.index],
                       text_auto=".0%", aspect="auto", color_continuous_scale="Blues", zmin=0, zmax=1,
                       labels={"x": t("col.tier"), "y": t("col.tag"), "color": t("col.share_customers")})
    chart(figure, key="tag_prevalence", z="pct")
    table(prevalence, {"tier": ("col.tier", "term:tier"), "tag": ("col.tag", "term:tag"),
                       "customers": ("col.customers", "count"), "tagged": ("col.tagged", "count"),
                       "share": ("col.share_customers", "pct1")}, "tag_prevalence")
