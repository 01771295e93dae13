"""Portfolio: branch -> relationship manager -> customer, ending on the customer 360 view.

Where the person stands lives in the URL (`?branch=SH01&rm=SH01-RM05&customer=42`), so a link opens
the same level; the scope decides what any level may show.
"""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from analytics import care, permissions, portfolio, tags
from analytics import format as fmt
from analytics.churn import helps_text, reasons_text
from analytics.filters import period
from analytics.scope import OutOfScope
from analytics.state import StateStore
from ui import guard, theme
from ui.cache import active_rules, compute, filter_options, session_scope
from ui.charts import chart, clicked, drillable
from ui.filters import current
from ui.i18n import lang, t, term
from ui.scores import on_their_way
from ui.tables import table

guard.page("portfolio")

LEVELS = ("branch", "rm", "customer")
KEY_OPENED = "portfolio_360_opened"

filters = current()
scope = session_scope()
st.title(t("page.portfolio"))
if period(filters, filter_options().months) is None:
    st.info(t("empty"))
    st.stop()
at = {level: st.query_params.get(level) for level in LEVELS}


def open_level(**levels) -> None:
    """Move to a level: set the given ones, drop the deeper ones."""
    for level in LEVELS:
        if levels.get(level):
            st.query_params[level] = str(levels[level])
        else:
            st.query_params.pop(level, None)


def breadcrumb(branch_name: str | None = None, rm_name: str | None = None) -> None:
    steps = [(t("portfolio.branches"), {})]
    if at["rm"] or at["customer"]:
        steps.append((branch_name or at["branch"], {"branch": at["branch"]}))
    if at["customer"] and at["rm"]:
        steps.append((rm_name or at["rm"], {"branch": at["branch"], "rm": at["rm"]}))
    row = st.container(horizontal=True)  # each button as wide as its label: a branch's name is read in full
    for label, target in steps:
        row.button(t("portfolio.back", level=label), on_click=open_level, kwargs=target, key=f"back_{len(target)}",
                   icon=":material/arrow_back:")


branches = compute(portfolio.branches, filters)
if branches.empty:
    st.info(t("empty"))
    st.stop()
names = dict(zip(branches.branch_code, branches["name" if lang() == "zh" else "name_en"]))
if not at["branch"] and len(branches) == 1:  # a branch head with one branch starts at their branch
    at["branch"] = branches.branch_code.iloc[0]

if at["customer"]:
    try:
        view = compute(portfolio.customer_360, filters, at["customer"])
    except OutOfScope:
        StateStore().record(scope.user, "page_refused", role=scope.role, page="portfolio",
                            customer_id=at["customer"])
        breadcrumb()
        st.error(t("portfolio.not_found", customer_id=at["customer"]))
        st.stop()
    profile = view.profile
    if st.session_state.get(KEY_OPENED) != profile["customer_id"]:  # by pseudonym for an analyst: what they saw
        StateStore().record(scope.user, "customer_360_opened", role=scope.role,
                            customer_id=scope.customer_key(profile["customer_id"]), branch_code=profile["branch_code"])
        st.session_state[KEY_OPENED] = profile["customer_id"]
    at["branch"], at["rm"] = at["branch"] or profile["branch_code"], at["rm"] or profile["rm_id"]
    breadcrumb(names.get(profile["branch_code"]), profile["rm_name"])
    st.subheader(t("c360.title", name=profile["name"]))
    cells = st.columns(5)
    cells[0].metric(t("col.tier"), term("tier", profile.get("tier")))
    cells[1].metric(t("col.stage"), term("stage", profile.get("stage")))
    cells[2].metric(t("col.aum"), fmt.money(profile.get("aum_cny"), lang()))
    cells[3].metric(t("col.products_held"), fmt.count(profile.get("products_held")))
    cells[4].metric(t("col.probability"), fmt.pct(view.churn["probability"], lang()) if view.churn else "–")
    facts = {
        t("col.customer_id"): str(profile["customer_id"]),
        t("col.branch"): f"{profile['branch_code']} {names.get(profile['branch_code'], '')}",
        t("col.rm"): f"{profile['rm_id']} {profile['rm_name'] or ''}",
        t("field.gender"): term("gender", profile.get("gender")),
        t("field.age"): fmt.age(profile["age_years"], profile["age_band_years"]),
        t("field.phone"): profile.get("phone") or "–",
        t("field.id_number"): profile.get("id_number") or "–",
        t("field.city"): profile.get("city") or "–",
        t("field.opened_on"): fmt.date(profile.get("opened_on"), lang()),
        t("field.status"): term("status", profile.get("status")),
        t("col.days_since_txn"): fmt.count(profile.get("days_since_last_txn")),
    }
    st.dataframe(pd.DataFrame({t("col.feature"): list(facts), t("col.value"): list(facts.values())}),
                 hide_index=True, width="stretch")

    st.subheader(t("c360.tags"))
    if view.tags.empty:
        st.caption(t("c360.no_tags"))
    else:
        table(view.tags.assign(why=[tags.describe(row, lang()) for _, row in view.tags.iterrows()]),
              {"tag": ("col.tag", "term:tag"), "why": ("col.tag_why", None)}, "customer_tags")
        st.caption(t("c360.tags_explain", version=active_rules().version))

    st.subheader(t("c360.churn"))
    if view.churn:
        st.markdown(f"**{t('col.reasons')}:** {reasons_text(view.churn['reasons_json'], lang()) or '–'}")
        st.markdown(f"**{t('col.helps')}:** {helps_text(view.churn['actions_json'], lang()) or '–'}")
        st.caption(t("churn.explain"))
    elif not on_their_way("churn"):
        st.info(t("c360.no_score"))
    st.subheader(t("c360.next_products"))
    if view.next_products.empty:
        if not on_their_way("products"):
            st.caption(t("c360.no_products"))
    else:
        offers = view.next_products
        table(offers.assign(why=offers.reasons_json.map(lambda v: reasons_text(v, lang()) or "–")),
              {"product": ("col.product", "term:product"), "probability": ("col.propensity", "pct"),
               "why": ("col.reasons", None)}, "customer_next_products")
        st.caption(t("c360.next_explain"))
    if permissions.may(scope.role, "care:read"):  # analysts work on pseudonyms, not on care tasks
        tasks = care.tasks(StateStore(), scope, status=None, customer_id=int(profile["customer_id"]))
        st.subheader(t("c360.tasks"))
        if tasks.empty:
            if not on_their_way("care"):
                st.caption(t("c360.none"))
        else:
            tasks = tasks.assign(asks=[care.reason_text(task, lang()) for task in tasks.itertuples()])
            table(tasks, {"due_on": ("col.due_on", "date"), "kind": ("col.kind", "term:task"),
                          "status": ("col.status", "term:task_status"), "outcome": ("col.outcome", "term:outcome"),
                          "asks": ("col.reason", None), "outcome_note": ("col.outcome_note", None),
                          "rm_id": ("col.rm_id", None), "task_id": ("col.task_id", None),
                          "created_by": ("col.created_by", "term:actor")}, "customer_tasks")

    st.subheader(t("c360.balances"))
    balances = view.balances
    if balances.empty:
        st.caption(t("c360.none"))
    else:
        # assets stack up to the AUM; a loan is owed, not held: its own dashed line, never on top of them
        figure = go.Figure([go.Scatter(x=balances.month, y=balances[column], name=t(header), stackgroup="assets",
                                       mode="lines", line=dict(width=0.5, color=colour))
                            for (column, header), colour in zip((("deposits_cny", "col.deposits"),
                                                                 ("investments_cny", "col.investments"),
                                                                 ("insurance_cny", "col.insurance")), theme.SERIES)])
        figure.add_trace(go.Scatter(x=balances.month, y=balances.loans_cny, name=t("c360.loans_apart"), mode="lines",
                                    line=dict(dash="dash", width=2, color=theme.SERIES[4])))
        figure.update_layout(xaxis_title=t("col.month"), yaxis_title=t("c360.balances_axis"))
        chart(figure, key="balances", y="cny")
    sections = (
        ("c360.accounts", view.accounts, {"account_id": ("col.account_id", None), "product": ("col.product", "term:product"),
                                          "opened_on": ("col.opened_on", "date"), "closed_on": ("col.closed_on", "date"),
                                          "maturity_on": ("col.maturity_on", "date")}),
        ("c360.interactions", view.interactions, {"occurred_at": ("col.when", "date"), "kind": ("col.kind", "term:interaction"),
                                                  "channel": ("col.channel", "term:channel"), "rm_id": ("col.rm_id", None),
                                                  "note": ("col.note", None)}),
        ("c360.surveys", view.surveys, {"answered_at": ("col.when", "date"), "touchpoint": ("col.touchpoint", "term:touchpoint"),
                                        "channel": ("col.channel", "term:channel"), "nps": ("col.nps", "count"),
                                        "csat": ("col.csat", "count")}),
        ("c360.complaints", view.complaints, {"opened_at": ("col.when", "date"), "category": ("col.category", "term:category"),
                                              "severity": ("col.severity", "term:severity"),
                                              "channel": ("col.channel", "term:channel"),
                                              "resolved_at": ("col.resolved_at", "date"), "sla_days": ("col.sla_days", "count")}),
    )
    for heading, frame, columns in sections:
        st.subheader(t(heading))
        if frame.empty:
            st.caption(t("c360.none"))
        else:
            table(frame, columns, f"customer_{heading.split('.')[1]}")
    st.stop()

on_their_way("churn", "products")  # the lists below show value at risk, and an RM's the probabilities and products
if at["rm"]:
    breadcrumb(names.get(at["branch"]))
    customers = compute(portfolio.customers, filters, at["rm"])
    st.subheader(t("portfolio.customers", rm=at["rm"]))
    if customers.empty:
        st.info(t("empty"))
        st.stop()
    st.caption(t("portfolio.pick_customer"))
    for n in (1, 2):  # each next-best product with its chance and reasons, in one cell
        customers[f"next_{n}"] = [
            "–" if pd.isna(product) else f"{term('product', product)} {fmt.pct(p, lang())}: {reasons_text(why, lang()) or '–'}"
            for product, p, why in zip(customers[f"product_{n}"], customers[f"probability_{n}"], customers[f"reasons_{n}"])]
    event = table(customers, {"name": ("col.customer", None), "probability": ("col.probability", "pct"),
                              "value_at_risk_cny": ("col.value_at_risk", "cny"), "aum_cny": ("col.aum", "cny"),
                              "tier": ("col.tier", "term:tier"), "stage": ("col.stage", "term:stage"),
                              "next_1": ("col.next_product", None), "next_2": ("col.next_product_2", None),
                              "products_held": ("col.products_held", "count"),
                              "days_since_last_txn": ("col.days_since_txn", "count"),
                              "customer_id": ("col.customer_id", None)}, "rm_customers", select=True)
    if rows := event.selection.rows:
        open_level(branch=at["branch"], rm=at["rm"], customer=customers.customer_id.iloc[rows[0]])
        st.rerun()
    st.stop()

if at["branch"]:
    breadcrumb()
    rms = compute(portfolio.relationship_managers, filters, at["branch"])
    st.subheader(t("portfolio.rms", branch=names.get(at["branch"], at["branch"])))
    if rms.empty:
        st.info(t("empty"))
        st.stop()
    rms = rms.assign(label=rms.rm_id + " " + rms["name"])
    figure = px.bar(rms, x="label", y="aum_cny", custom_data=["rm_id"], text=rms.aum_cny.map(lambda v: fmt.money(v, lang())),
                    labels={"label": t("col.rm"), "aum_cny": t("col.aum")}, color_discrete_sequence=[theme.SERIES[0]])
    picked = clicked(drillable(figure, key="rm_bars", y="cny"))
    st.caption(t("click_to_drill"))
    event = table(rms, {"name": ("col.rm", None), "at_risk_customers": ("col.at_risk", "count"),
                        "value_at_risk_cny": ("col.value_at_risk", "cny"), "customers": ("col.customers", "count"),
                        "aum_cny": ("col.aum", "cny"), "high_tier_customers": ("col.high_tier", "count"),
                        "churn_rate_12m": ("col.churn_rate_12m", "pct"), "rm_id": ("col.rm_id", None)},
                  "branch_rms", select=True)
    picked = picked or (rms.rm_id.iloc[event.selection.rows[0]] if event.selection.rows else None)
    if picked:
        open_level(branch=at["branch"], rm=picked)
        st.rerun()
    st.stop()

figure = px.bar(branches.assign(label=branches.branch_code.map(names)), x="label", y="aum_cny", custom_data=["branch_code"],
                text=branches.aum_cny.map(lambda v: fmt.money(v, lang())),
                labels={"label": t("col.branch"), "aum_cny": t("col.aum")}, color_discrete_sequence=[theme.SERIES[0]])
picked = clicked(drillable(figure, key="branch_bars", y="cny"))
st.caption(t("click_to_drill"))
event = table(branches.assign(branch=branches.branch_code.map(names)),
              {"branch": ("col.branch", None), "rank": ("col.rank", None), "aum_cny": ("col.aum", "cny"),
               "customers": ("col.customers", "count"), "churn_rate_12m": ("col.churn_rate_12m", "pct"),
               "value_at_risk_cny": ("col.value_at_risk", "cny"), "branch_code": ("col.branch_code", None)},
              "branches", select=True)
picked = picked or (branches.branch_code.iloc[event.selection.rows[0]] if event.selection.rows else None)
if picked:
    open_level(branch=picked)
    st.rerun()
