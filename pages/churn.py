"""Churn warnings: churn rate over time by tier and branch, and every customer in the Churn-warning stage (sorted
by value at risk, probability, RM or next care task), with the stage's rule, the model's reasons and what would help."""

import datetime as dt

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from analytics import care, churn, config, export, permissions, portfolio
from analytics import format as fmt
from analytics.churn import helps_text
from analytics.filters import period
from analytics.state import StateStore
from ui import guard, theme
from ui.cache import active_rules, coming, compute, filter_options, scoped, session_scope
from ui.charts import chart
from ui.filters import current
from ui.i18n import day_names, lang, message, namer, t, term, texts
from ui.scores import on_their_way
from ui.tables import table

guard.page("churn")

DUE_CHOICE_DAYS = 90  # how far ahead a task assigned here may fall due

scope = session_scope()
filters = current()
st.title(t("page.churn"))
st.caption(t("churn.explain"))
on_their_way("churn", *(["care"] if permissions.may(scope.role, "care:assign") else []))
if (months := period(filters, filter_options().months)) is None:
    st.info(t("empty"))
    st.stop()


def by_branch(rates) -> go.Figure:
    """Twenty lines cannot be told apart: the branches churning most and least in colours of their own (warm,
    cool), the others grey under them, and all of them together as one dark line; each named in the language."""
    names = filter_options().branches.set_index("branch_code")["name" if lang() == "zh" else "name_en"]
    ranked = churn.extremes(rates)
    colours = {"highest": iter(theme.HIGHEST), "lowest": iter(theme.LOWEST)}
    # the grey lines' one legend entry: a line with no point, in the first month (a month axis, not numbers)
    figure = go.Figure(go.Scatter(x=rates.month[:1], y=[None], mode="lines", line=dict(color=theme.MUTED),
                                  hoverinfo="skip", name=message("churn.branches_other"), legendgroup="other",
                                  legendrank=900))
    # the grey lines first, under the coloured ones; those in rank order, the highest first
    for order, row in enumerate(ranked.sort_values("mark", key=lambda m: m != "", kind="stable").itertuples()):
        months = rates[rates.branch == row.branch]
        style = dict(mode="lines", line=dict(color=theme.MUTED, width=1), legendgroup="other", showlegend=False,
                     hoverlabel=dict(font_color=theme.INK)) \
            if not row.mark else dict(mode="lines+markers", line=dict(color=next(colours[row.mark]), width=2),
                                      legendgroup=row.mark, legendrank=100 + order,
                                      legendgrouptitle_text=message(f"churn.branches_{row.mark}"))
        figure.add_trace(go.Scatter(x=months.month, y=months.value, name=names.get(row.branch, row.branch),
                                    customdata=months[["churned", "at_start"]].to_numpy(), **style))
    bank = churn.pooled(rates, "month")
    figure.add_trace(go.Scatter(x=bank.month, y=bank.value, mode="lines", name=message("churn.branches_all"),
                                line=dict(color=theme.SERIES[0], width=3.5), legendrank=1,
                                customdata=bank[["churned", "at_start"]].to_numpy()))
    figure.update_layout(height=520)  # room for the lines under a legend of seven names, on a phone too
    return figure


group = st.segmented_control(t("churn.rate_by"), churn.GROUPS, default="tier", key="churn_group",
                             format_func=texts({g: f"col.{g}" for g in churn.GROUPS})) or "tier"
rates = compute(churn.rate_by, filters, group)
if rates.empty:
    st.info(t("empty"))
else:
    if group == "tier":
        figure = px.line(rates.assign(name=rates.tier.map(lambda v: term("tier", v))), x="month", y="value",
                         color="name", markers=True, color_discrete_map=theme.colours("tier"),
                         category_orders={"name": theme.order("tier")}, custom_data=["churned", "at_start"])
    else:
        figure = by_branch(rates)
    figure.update_layout(xaxis_title=t("col.month"), yaxis_title=t("col.churn_rate"), legend_title_text="")
    figure.update_yaxes(rangemode="tozero")
    chart(figure, key="churn_rates", y="pct", more=(("col.churned", "count"), ("col.at_start", "count")))
    if group == "branch":
        st.caption(t("churn.branches_explain", n=churn.EXTREMES))

rm = st.selectbox(t("churn.rm"), [None, *compute(churn.relationship_managers, filters)],
                  format_func=texts({None: "filters.all"}), key="churn_rm")
state = StateStore()
listed = compute(portfolio.at_risk, filters, rm)
if listed.empty:
    st.info(t("churn.none_at_risk"))
else:
    reads_tasks = permissions.may(scope.role, "care:read")  # the next care task's date is shown to those only
    sorts = churn.SORTS if reads_tasks else churn.SORTS[:-1]
    by = st.segmented_control(t("churn.sort"), sorts, default=sorts[0], key="churn_sort",
                              format_func=texts({s: f"churn.sort.{s}" for s in sorts})) or sorts[0]
    if reads_tasks:
        listed = listed.merge(care.next_due(state, scope, listed.customer_id), on="customer_id", how="left")
    listed = churn.ordered(listed, by)
    listed = listed.assign(reasons=care.why_at_risk(listed, active_rules(), lang()),
                           helps=listed.actions_json.map(lambda v: helps_text(v, lang())))
    st.caption(t("churn.list", n=fmt.count(len(listed)), as_of=fmt.date(months[1], lang()),
                 rules=active_rules().version))
    scored = listed.model_version.dropna()
    if not scored.empty:
        st.caption(t("churn.scored", model=scored.iloc[0]))
    elif "churn" not in coming():
        st.caption(t("churn.unscored"))
    table(listed, {"name": ("col.customer", None), "probability": ("col.probability", "pct"),
                   "value_at_risk_cny": ("col.value_at_risk", "cny"),
                   **({"next_task_on": ("churn.sort.next_task_on", "date")} if reads_tasks else {}),
                   "reasons": ("col.reasons", None), "helps": ("col.helps", None),
                   "tier": ("col.tier", "term:tier"), "aum_cny": ("col.aum", "cny"),
                   "rm_id": ("col.rm_id", None), "customer_id": ("col.customer_id", None)}, "churn_warnings")

if not permissions.may(scope.role, "care:assign"):
    st.stop()

today = config.today()  # the local day: what is due before it is overdue
if not listed.empty:
    with st.form("assign_care_task", clear_on_submit=True):
        st.subheader(t("care.assign"))
        choice = st.selectbox(t("care.customer"), listed.index,
                              format_func=lambda i: f"{listed.name[i]} ({listed.customer_id[i]})")
        # the person says what the task is for: nothing is typed "churn risk" unless they choose it
        kind = st.selectbox(t("care.kind"), care.KINDS, index=None, placeholder=t("care.kind_pick"),
                            format_func=namer("task"), key="care_kind")
        days = [today + dt.timedelta(days=n) for n in range(DUE_CHOICE_DAYS + 1)]
        due = st.selectbox(t("care.due"), days, index=care.RISK_DUE_DAYS, format_func=day_names(), key="care_due")
        note = st.text_input(t("care.note"), key="care_note")
        if st.form_submit_button(t("care.submit")):
            row = listed.loc[choice]
            if kind is None:
                st.error(t("care.kind_needed"))
            else:
                try:
                    task_id = care.assign(state, scoped(), customer_id=int(row.customer_id), kind=kind,
                                          reason=note or row.reasons, due_on=due)
                except export.FormulaText as problem:
                    st.error(str(problem))
                else:
                    st.success(t("care.assigned", task_id=task_id, rm=row.rm_id))


def customers_of(tasks):
    """The tasks' customers: name (masked as the scope says) and AUM."""
    return compute(care.customers_of, filters, tuple(sorted(set(tasks.customer_id))))


def asking(tasks):
    """What each task asks for, in the person's language."""
    return tasks.assign(asks=[care.reason_text(task, lang()) for task in tasks.itertuples()])


st.subheader(t("care.open"))
open_tasks = care.tasks(state, scope, rm_id=rm)
open_tasks = asking(care.worklist(open_tasks, customers_of(open_tasks), today))
listing = st.container()  # drawn after the form below, so that a task closed there has left the list
if not open_tasks.empty:
    with st.form("complete_care_task", clear_on_submit=True):
        st.markdown(f"**{t('care.complete')}**")
        st.caption(t("care.behalf"))
        task_id = st.selectbox(t("care.task"), open_tasks.task_id, key="care_task", format_func=lambda i: " · ".join(
            str(v) for v in open_tasks.loc[open_tasks.task_id == i, ["task_id", "name", "asks"]].iloc[0]))
        # no outcome until one is chosen: a hurried close must not record a retention that never happened
        outcome = st.selectbox(t("care.outcome"), care.OUTCOMES, index=None, placeholder=t("care.outcome_pick"),
                               format_func=namer("outcome"), key="care_outcome")
        outcome_note = st.text_input(t("care.outcome_note"))
        if st.form_submit_button(t("care.done")):
            if outcome is None:
                st.error(t("care.outcome_needed"))
            else:
                try:
                    care.complete(state, scope, int(task_id), outcome=outcome, note=outcome_note)
                except export.FormulaText as problem:
                    st.error(str(problem))
                else:
                    st.success(t("care.completed", task_id=task_id,
                                 outcome=term("outcome", outcome, in_sentence=True)))
                    open_tasks = open_tasks[open_tasks.task_id != task_id]
with listing:
    counts = care.counts(state, scope, today=today, rm_id=rm)
    cells = st.columns(3)
    cells[0].metric(t("care.open_tasks"), fmt.count(counts["open"]))
    cells[1].metric(t("care.overdue"), fmt.count(counts["overdue"]),
                    help=t("care.overdue_help", today=fmt.date(today, lang())))
    cells[2].metric(t("care.missed"), fmt.count(counts["missed"]), help=t("care.missed_help"))
    last_run = care.last_run(state)
    if last_run:
        st.caption(t("care.rules_ran", on=fmt.date(last_run, lang()), zone=config.local_zone().key))
    elif "care" not in coming():
        st.caption(t("care.rules_never"))
    if not open_tasks.empty:
        table(open_tasks, {"name": ("col.customer", None), "due_on": ("col.due_on", "date"),
                           "overdue_days": ("col.overdue_days", "count"), "kind": ("col.kind", "term:task"),
                           "asks": ("col.reason", None), "aum_cny": ("col.aum", "cny"), "rm_id": ("col.rm_id", None),
                           "customer_id": ("col.customer_id", None), "task_id": ("col.task_id", None),
                           "created_by": ("col.created_by", "term:actor")}, "care_tasks")

history = care.tasks(state, scope, status="done", rm_id=rm, limit=1000)
if not history.empty:
    st.subheader(t("care.history"))
    # the customer and what came of it first, ids last
    table(asking(history.merge(customers_of(history), on="customer_id", how="left")),
          {"name": ("col.customer", None), "outcome": ("col.outcome", "term:outcome"),
           "done_at": ("col.done_at", "time"), "due_on": ("col.due_on", "date"), "kind": ("col.kind", "term:task"),
           "asks": ("col.reason", None), "rm_id": ("col.rm_id", None), "customer_id": ("col.customer_id", None),
           "task_id": ("col.task_id", None), "created_by": ("col.created_by", "term:actor"),
           "outcome_note": ("col.outcome_note", None), "done_by": ("col.done_by", "term:actor")},
          "care_task_history")
