"""Churn warnings: customers ranked by value at risk, with the model's reasons and what would help."""

import datetime as dt

import pandas as pd
import streamlit as st

from analytics import care, export
from analytics import format as fmt
from analytics.churn import WarningFilters, helps_text, reasons_text
from analytics.state import StateStore
from analytics.tiers import TIERS
from auth.roles import MAY_ASSIGN_CARE_TASKS
from ui import guard
from ui.cache import churn_warnings, relationship_managers, session_scope, store_version

guard.page("churn")

scope = session_scope()
version = store_version()
st.title("Churn warnings")
st.caption("Value at risk = churn probability in the next 3 months × AUM. Reasons are the model's own attributions; "
           "“what would help” is the model's estimate for a changed customer, not a promise.")

left, right = st.columns(2)
rm = left.selectbox("Relationship manager", ["All", *relationship_managers(scope, version)])
tier = right.selectbox("Tier", ["All", *TIERS])
filters = WarningFilters(rm_id=None if rm == "All" else rm, tier=None if tier == "All" else tier)
listed = churn_warnings(scope, version, filters)
if listed.empty:
    st.info("No churn scores for this selection. Scores come from `bankcrm train` and `bankcrm score`.")
    st.stop()


table = pd.DataFrame({
    "customer": listed["name"], "customer_id": listed["customer_id"], "rm": listed["rm_id"], "tier": listed["tier"],
    "AUM": listed["aum_cny"].map(fmt.money), "churn probability": listed["probability"].map(fmt.pct),
    "value at risk": listed["value_at_risk_cny"].map(fmt.money),
    "reasons": listed["reasons_json"].map(reasons_text), "what would help": listed["actions_json"].map(helps_text),
})
st.caption(f"As of {pd.Timestamp(listed['as_of'].iloc[0]):%Y-%m-%d}, model {listed['model_version'].iloc[0]}: "
           f"the {len(table)} highest values at risk.")
st.dataframe(table, hide_index=True, width="stretch")

download = table.assign(AUM=listed["aum_cny"], **{"churn probability": listed["probability"],
                                                  "value at risk": listed["value_at_risk_cny"]})
if st.download_button("Download CSV", export.csv_bytes(download), "churn_warnings.csv", "text/csv",
                      on_click="rerun"):
    StateStore().record(scope.user, "download", role=scope.role, what="churn_warnings", rows=len(download),
                        format="csv", filters={"rm": rm, "tier": tier})

if scope.role in MAY_ASSIGN_CARE_TASKS:
    with st.form("assign_care_task", clear_on_submit=True):
        st.subheader("Assign a care task")
        choice = st.selectbox("Customer", listed.index, format_func=lambda i: f"{listed.name[i]} ({listed.customer_id[i]})")
        due = st.date_input("Due", dt.date.today() + dt.timedelta(days=7))
        note = st.text_input("Note for the relationship manager")
        if st.form_submit_button("Assign"):
            row = listed.loc[choice]
            task_id = care.assign(StateStore(), customer_id=int(row.customer_id), branch_code=row.branch_code,
                                  rm_id=row.rm_id, kind="churn_risk", reason=note or reasons_text(row.reasons_json),
                                  due_on=due, created_by=scope.user, role=scope.role)
            st.success(f"Task {task_id} assigned to {row.rm_id}.")
    open_tasks = care.tasks(StateStore(), scope.branch_codes)
    if not open_tasks.empty:
        st.subheader("Open care tasks")
        st.dataframe(open_tasks[["task_id", "customer_id", "rm_id", "kind", "reason", "due_on", "created_by"]],
                     hide_index=True, width="stretch")
