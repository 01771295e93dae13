"""Care tasks: a branch head asks a relationship manager to look after a customer."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from analytics.state import StateStore, utc_now

KINDS = ("churn_risk", "birthday", "maturity", "complaint_sla")


def assign(state: StateStore, *, customer_id: int, branch_code: str, rm_id: str | None, kind: str, reason: str,
           due_on: dt.date, created_by: str, role: str) -> int:
    """Create an open task and write it to the audit log; returns the task id."""
    if kind not in KINDS:
        raise ValueError(f"unknown task kind {kind!r}")
    with state.transaction() as con:
        task_id = con.execute(
            "INSERT INTO care_tasks (customer_id, branch_code, rm_id, kind, reason, due_on, status, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
            [int(customer_id), branch_code, rm_id, kind, reason, due_on.isoformat(), created_by, utc_now()]).lastrowid
    state.record(created_by, "care_task_assigned", role=role, task_id=task_id, customer_id=int(customer_id),
                 rm_id=rm_id, kind=kind)
    return task_id


def tasks(state: StateStore, branch_codes: frozenset[str] | None, status: str | None = "open") -> pd.DataFrame:
    """Tasks of the given branches (None: all), newest first."""
    with state.connect() as con:
        frame = pd.read_sql_query("SELECT * FROM care_tasks ORDER BY task_id DESC", con)
    if branch_codes is not None:
        frame = frame[frame.branch_code.isin(branch_codes)]
    if status:
        frame = frame[frame.status == status]
    return frame.reset_index(drop=True)
