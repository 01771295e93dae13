"""Care tasks: a relationship manager looks after a customer, asked by a branch head or by a rule.

The rules (`due`) read the store as of a date: a birthday within 7 days, a
term deposit maturing within 30 days, a churn probability over the active
rule set's warning threshold or an AUM fall (the Churn-warning stage), a complaint open past its SLA. `generate`
writes the tasks they call for into the state store once each (a rule's
task has a key, such as "birthday:42:2026"), and closes as expired the rules'
tasks whose date (a birthday, a maturity) has passed: a miss. A task is closed
once, with an outcome, and is never deleted nor rewritten: the state store
refuses both.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import ibis
import pandas as pd

from analytics import export, permissions, portfolio
from analytics import format as fmt
from analytics.churn import reasons_text
from analytics.filters import Slice
from analytics.i18n import t, term
from analytics.scope import OutOfScope, Scope, ScopedStore
from analytics.state import StateStore, append_audit, utc_now

KINDS = ("churn_risk", "birthday", "maturity", "complaint_sla")
OUTCOMES = ("retained", "product_added", "complaint_resolved", "no_answer", "leaving", "other")  # a person's choice
EXPIRED = "expired"  # the outcome the rules close a task with once its date has passed: a miss
EXPIRING_KINDS = ("birthday", "maturity")  # rule tasks due on the day of the event itself
STATUSES = ("open", "done")
BIRTHDAY_WITHIN_DAYS = 7
MATURITY_WITHIN_DAYS = 30
RISK_DUE_DAYS = 7     # a customer at risk is called within a week
RULES_ACTOR = "rules"  # created_by of the tasks the rules create


class TaskError(ValueError):
    pass


# --- the rules --------------------------------------------------------------------------

def due(sl: Slice, on: dt.date) -> pd.DataFrame:
    """The care tasks the rules call for on `on`, for current customers in scope, by due date.

    Columns: rule_key, customer_id, branch_code, rm_id, kind, due_on, detail (a dict of the figures)."""
    customers = sl.table("customers")
    current = customers.semi_join(sl.table("customer_current").filter(lambda c: ~c.is_churned), "customer_id")
    who = current.select("customer_id", "branch_code", "rm_id")
    frames = [_birthdays(current, on), _maturities(sl, who, on), _complaints_past_sla(sl, who, on),
              _at_risk(sl, who, on)]
    columns = ["rule_key", "customer_id", "branch_code", "rm_id", "kind", "due_on", "detail"]
    found = [f[columns] for f in frames if not f.empty]
    if not found:
        return pd.DataFrame(columns=columns)
    # in one order on every engine: none of the queries above orders its rows
    return pd.concat(found).sort_values(["due_on", "kind", "rule_key"], ignore_index=True)


def _birthdays(customers, on: dt.date) -> pd.DataFrame:
    """Birthdays from `on` to `on` + 7 days; 29 February falls on 28 February in other years."""
    days = [on + dt.timedelta(days=i) for i in range(BIRTHDAY_WITHIN_DAYS + 1)]
    born = customers.filter(customers.birth_date.notnull())
    month, day = born.birth_date.month(), born.birth_date.day()
    cases = []
    for d in days:
        hit = (month == d.month) & (day == d.day)
        if (d.month, d.day) == (2, 28) and not _is_leap(d.year):
            hit |= (month == 2) & (day == 29)
        cases.append((hit, ibis.literal(d, type="date")))
    birthday = ibis.cases(*cases)
    found = (born.select("customer_id", "branch_code", "rm_id", "birth_date", due_on=birthday)
             .filter(lambda b: b.due_on.notnull()).execute())
    if found.empty:
        return found
    found["due_on"] = pd.to_datetime(found.due_on).dt.date
    age = [d.year - pd.Timestamp(b).year for d, b in zip(found.due_on, found.birth_date)]
    return found.assign(
        kind="birthday",
        rule_key=[f"birthday:{c}:{d.year}" for c, d in zip(found.customer_id, found.due_on)],
        detail=[{"birthday": d.isoformat(), "age": a} for d, a in zip(found.due_on, age)],
    )


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _maturities(sl: Slice, who, on: dt.date) -> pd.DataFrame:
    """Open term deposits maturing from `on` to `on` + 30 days."""
    accounts = sl.table("accounts")
    until = on + dt.timedelta(days=MATURITY_WITHIN_DAYS)
    maturing = accounts.filter(
        (accounts["product"] == "term_deposit") & accounts.closed_on.isnull()
        & (accounts.maturity_on >= on) & (accounts.maturity_on <= until))
    found = maturing.join(who, "customer_id").select(
        "customer_id", "branch_code", "rm_id", "account_id", due_on=maturing.maturity_on).execute()
    if found.empty:
        return found
    found["due_on"] = pd.to_datetime(found.due_on).dt.date
    return found.assign(
        kind="maturity",
        rule_key=[f"maturity:{a}:{d}" for a, d in zip(found.account_id, found.due_on)],
        detail=[{"account_id": int(a), "maturity_on": d.isoformat(), "days": (d - on).days}
                for a, d in zip(found.account_id, found.due_on)],
    )


def _complaints_past_sla(sl: Slice, who, on: dt.date) -> pd.DataFrame:
    """Complaints still open at the end of `on` whose SLA ended before it."""
    c = sl.table("complaints")
    end_of_day = ibis.literal(dt.datetime.combine(on + dt.timedelta(days=1), dt.time()), type="timestamp")
    opened_on = c.opened_at.date()
    late = c.filter((c.opened_at < end_of_day) & (c.resolved_at.isnull() | (c.resolved_at >= end_of_day))
                    & ((opened_on + c.sla_days.as_interval("D")) < on))
    found = late.join(who, "customer_id").select(
        "customer_id", "branch_code", "rm_id", "complaint_id", "category", "sla_days", opened_on=opened_on).execute()
    if found.empty:
        return found
    opened = pd.to_datetime(found.opened_on).dt.date
    return found.assign(
        kind="complaint_sla", due_on=on,
        rule_key=[f"complaint_sla:{c}" for c in found.complaint_id],
        detail=[{"complaint_id": int(c), "category": cat, "days_open": (on - o).days, "sla_days": int(s)}
                for c, cat, o, s in zip(found.complaint_id, found.category, opened, found.sla_days)],
    )


def _at_risk(sl: Slice, who, on: dt.date) -> pd.DataFrame:
    """Customers in the Churn-warning stage (portfolio.at_risk): a churn probability at or over the rule set's
    threshold, or an AUM fall. One task per customer and as-of month."""
    found = portfolio.at_risk(sl).merge(who.select("customer_id").execute(), on="customer_id")
    if found.empty:
        return found
    month = sl.as_of_date().isoformat()
    return found.assign(
        kind="churn_risk", due_on=on + dt.timedelta(days=RISK_DUE_DAYS),
        rule_key=[f"churn_risk:{c}:{month}" for c in found.customer_id],
        detail=[risk_detail(row, sl.rules) | {"month": month} for row in found.itertuples()],
    )


def risk_detail(row, rules) -> dict:
    """The figures behind a row of portfolio.at_risk: which of the stage's rules apply, with the customer's figure."""
    figures = {"threshold": rules.warning_probability}
    if row.likely:
        figures |= {"probability": round(float(row.probability), 4),
                    "scored_on": pd.Timestamp(row.as_of).date().isoformat()}
    if row.aum_fell:
        figures |= {"aum_change_3m": round(float(row.aum_change_3m), 4)}
    return figures


def why_at_risk(listed: pd.DataFrame, rules, lang: str) -> list[str]:
    """Per row of portfolio.at_risk, in words: the stage's rules that put the customer there, then the model's
    reasons. Never empty: a customer is listed by a rule."""
    return ["; ".join(filter(None, (describe("churn_risk", risk_detail(row, rules), lang),
                                    reasons_text(row.reasons_json, lang)))) for row in listed.itertuples()]


def next_due(state: StateStore, scope: Scope, customer_ids) -> pd.DataFrame:
    """customer_id and next_task_on, the due date of each customer's next open care task (customers with one)."""
    open_tasks = tasks(state, scope)
    open_tasks = open_tasks[open_tasks.customer_id.isin(list(customer_ids))]
    return (open_tasks.assign(next_task_on=pd.to_datetime(open_tasks.due_on).dt.date)
            .groupby("customer_id", as_index=False).next_task_on.min())


def describe(kind: str, detail: dict, lang: str) -> str:
    """A rule's task in words, with the figure behind it (a birthday without its date once masked)."""
    values, key = dict(detail), f"care.rule.{kind}"
    if kind == "maturity" and detail["days"] == 0:
        key += "_today"
    if kind == "birthday" and "birthday" not in detail:
        key += "_soon"
    for day in ("birthday", "maturity_on"):  # kept as ISO dates, read as the language writes a day
        if day in values:
            values[day] = fmt.date(values[day], lang)
    if kind == "churn_risk":  # the stage's rules that apply: the model's probability, an AUM fall, or both
        parts = []
        if "probability" in detail:
            parts.append(t(key, lang, probability=f"{detail['probability']:.0%}"))
        if "aum_change_3m" in detail:
            parts.append(t(f"{key}_aum", lang, fall=f"{-detail['aum_change_3m']:.0%}"))
        return "; ".join(parts)
    if kind == "complaint_sla":
        values["category"] = term("category", detail["category"], lang, in_sentence=True)
    return t(key, lang, **values)


# --- writing tasks ----------------------------------------------------------------------

_COLUMNS = ("customer_id", "branch_code", "rm_id", "kind", "reason", "due_on", "status", "created_by", "created_at",
            "rule_key", "detail_json")


@dataclass(frozen=True)
class Run:
    """What a run of the rules did, per kind: tasks created, and tasks closed as expired."""
    created: dict[str, int]
    expired: dict[str, int]


def generate(state: StateStore, tasks: pd.DataFrame, *, on: dt.date, actor: str, role: str | None = None) -> Run:
    """Write the tasks `due` found, each rule's task once, and close as expired the rules' open tasks whose date
    passed before `on` (_expire); one transaction, audited with both counts.

    A customer with an open churn-risk task gets no second one from a later scoring."""
    created = dict.fromkeys(KINDS, 0)
    now = utc_now()
    with state.transaction() as con:
        at_risk = {row[0] for row in con.execute(
            "SELECT customer_id FROM care_tasks WHERE kind = 'churn_risk' AND status = 'open'")}
        for row in tasks.itertuples(index=False):
            if row.kind == "churn_risk" and int(row.customer_id) in at_risk:
                continue
            inserted = con.execute(
                f"INSERT OR IGNORE INTO care_tasks ({', '.join(_COLUMNS)})"  # noqa: S608 (column names are constants)
                f" VALUES ({', '.join('?' * len(_COLUMNS))})",
                [int(row.customer_id), row.branch_code, row.rm_id, row.kind, None, row.due_on.isoformat(), "open",
                 RULES_ACTOR, now, row.rule_key, json.dumps(row.detail, ensure_ascii=False)]).rowcount
            created[row.kind] += inserted
        expired = _expire(con, on, actor, role)
        append_audit(con, actor, "care_tasks_generated", role, on=on.isoformat(), created=created, expired=expired)
    return Run(created, expired)


def _expire(con, on: dt.date, actor: str, role: str | None) -> dict[str, int]:
    """Close the rules' open birthday and maturity tasks whose day passed before `on`: nothing can be done for a
    birthday or a maturity once it is over. Each is closed like any task (done by the rules, outcome "expired"),
    with its own audit row; a task a person assigned stays open, overdue, for them to close."""
    expired = dict.fromkeys(KINDS, 0)
    now = utc_now()
    late = con.execute(
        f"SELECT task_id, kind FROM care_tasks WHERE status = 'open' AND created_by = ? AND rule_key IS NOT NULL"
        f" AND kind IN ({', '.join('?' * len(EXPIRING_KINDS))}) AND due_on < ? ORDER BY task_id",  # noqa: S608
        [RULES_ACTOR, *EXPIRING_KINDS, on.isoformat()]).fetchall()
    for task_id, kind in late:
        con.execute("UPDATE care_tasks SET status = 'done', done_at = ?, done_by = ?, outcome = ? WHERE task_id = ?",
                    [now, RULES_ACTOR, EXPIRED, task_id])
        append_audit(con, actor, "care_task_done", role, task_id=task_id, outcome=EXPIRED)
        expired[kind] += 1
    return expired


def assign(state: StateStore, tables: ScopedStore, *, customer_id: int, kind: str, reason: str,
           due_on: dt.date) -> int:
    """Create an open task for a customer of the scope, for the customer's own RM, and write it to the audit
    log; returns the task id. Only roles that may "care:assign" (analytics.permissions); a customer outside
    the scope is refused as one that does not exist."""
    scope = tables.scope
    permissions.check(scope.role, "care:assign")
    if kind not in KINDS:
        raise TaskError(f"unknown task kind {kind!r}; kinds are {', '.join(KINDS)}")
    reason = export.typed_text("reason", reason)
    customers = tables.table("customers")
    found = customers.filter(customers.customer_id == int(customer_id)).select("branch_code", "rm_id").execute()
    if found.empty:
        raise OutOfScope(f"customer {customer_id} is not one of your branches' customers")
    branch_code, rm_id = found.branch_code.iloc[0], None if pd.isna(found.rm_id.iloc[0]) else found.rm_id.iloc[0]
    with state.transaction() as con:
        task_id = con.execute(
            "INSERT INTO care_tasks (customer_id, branch_code, rm_id, kind, reason, due_on, status, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)",
            [int(customer_id), branch_code, rm_id, kind, reason, due_on.isoformat(), scope.user, utc_now()]).lastrowid
        append_audit(con, scope.user, "care_task_assigned", scope.role, task_id=task_id, customer_id=int(customer_id),
                     rm_id=rm_id, kind=kind)
    return task_id


def complete(state: StateStore, scope: Scope, task_id: int, *, outcome: str, note: str) -> None:
    """Close an open task of the scope's branches with its outcome (roles that may "care:complete"); the audit
    log records who and when."""
    permissions.check(scope.role, "care:complete")
    if outcome not in OUTCOMES:
        raise TaskError(f"unknown outcome {outcome!r}; outcomes are {', '.join(OUTCOMES)}")
    note = export.typed_text("note", note)
    with state.transaction() as con:
        row = con.execute("SELECT branch_code, status FROM care_tasks WHERE task_id = ?", [int(task_id)]).fetchone()
        if row is None or (scope.branch_codes is not None and row[0] not in scope.branch_codes):
            # another branch's task is refused the same way as one that does not exist
            raise OutOfScope(f"care task {task_id} is not one of your branches' tasks")
        if row[1] != "open":
            raise TaskError(f"care task {task_id} is already {row[1]}")
        con.execute("UPDATE care_tasks SET status = 'done', done_at = ?, done_by = ?, outcome = ?, outcome_note = ?"
                    " WHERE task_id = ?", [utc_now(), scope.user, outcome, note or None, int(task_id)])
        append_audit(con, scope.user, "care_task_done", scope.role, task_id=int(task_id), outcome=outcome)


# --- reading tasks ----------------------------------------------------------------------

def tasks(state: StateStore, scope: Scope, status: str | None = "open", *,
          rm_id: str | None = None, customer_id: int | None = None, limit: int = 5000) -> pd.DataFrame:
    """Tasks of the scope's branches, open ones by due date, closed ones newest first, shown as the scope may
    see them: without PII, a birthday task keeps no date or age and free text (notes) is not shown. Only roles
    that may "care:read"."""
    permissions.check(scope.role, "care:read")
    where, params = _where(scope, status, rm_id, customer_id)
    order = "due_on, task_id" if status == "open" else "coalesce(done_at, created_at) DESC, task_id DESC"
    with state.connect() as con:
        found = pd.read_sql_query(f"SELECT * FROM care_tasks {where} ORDER BY {order} LIMIT ?",  # noqa: S608
                                  con, params=[*params, limit])
    if scope.pii == "shown":
        return found
    return found.assign(reason=None, outcome_note=None,
                        detail_json=[_without_dates(kind, detail) for kind, detail in zip(found.kind, found.detail_json)])


def _where(scope: Scope, status: str | None, rm_id: str | None = None, customer_id: int | None = None
           ) -> tuple[str, list]:
    """The WHERE clause (and its parameters) of the scope's branches' tasks, optionally of a status, RM, customer."""
    clauses, params = [], []
    if scope.branch_codes is not None:
        clauses.append(f"branch_code IN ({', '.join('?' * len(scope.branch_codes))})")
        params += sorted(scope.branch_codes)
    if status:
        if status not in STATUSES:
            raise ValueError(f"unknown task status {status!r}")
        clauses.append("status = ?")
        params.append(status)
    if rm_id:
        clauses.append("rm_id = ?")
        params.append(rm_id)
    if customer_id is not None:
        clauses.append("customer_id = ?")
        params.append(int(customer_id))
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def counts(state: StateStore, scope: Scope, *, today: dt.date, rm_id: str | None = None) -> dict[str, int]:
    """How care is going in the scope's branches (of one RM): open tasks; overdue, those of them due before `today`
    (the local day, analytics.config.today); missed, the rules' tasks closed as expired, their date passed while
    they were open (all of them so far). Only roles that may "care:read"."""
    permissions.check(scope.role, "care:read")
    where, params = _where(scope, None, rm_id)
    with state.connect() as con:
        found = con.execute(
            "SELECT coalesce(sum(status = 'open'), 0), coalesce(sum(status = 'open' AND due_on < ?), 0),"
            f" coalesce(sum(outcome = ?), 0) FROM care_tasks {where}",  # noqa: S608 (placeholders only)
            [today.isoformat(), EXPIRED, *params]).fetchone()
    return dict(zip(("open", "overdue", "missed"), found))


def worklist(tasks: pd.DataFrame, customers: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """Open tasks in the order a branch head works them: the soonest due first and, on one day, the customer with
    the most AUM first (then by task id), with each customer's name and AUM (`customers`: customers_of) and
    overdue_days, the days since a task was due when that is before `today` (the local day), else None."""
    listed = tasks.merge(customers, on="customer_id", how="left")
    due = pd.to_datetime(listed.due_on).dt.date
    listed["overdue_days"] = pd.Series([(today - d).days if d < today else None for d in due], index=listed.index,
                                       dtype=object)
    return listed.sort_values(["due_on", "aum_cny", "task_id"], ascending=[True, False, True], na_position="last",
                              kind="stable", ignore_index=True)


def _without_dates(kind: str, detail):
    """A birthday task's detail without the date and the age (they would give back what an ID number's mask
    hides): "birthday within 7 days" is what a role without PII reads."""
    if kind != "birthday" or not isinstance(detail, str):
        return detail
    return json.dumps({"within_days": BIRTHDAY_WITHIN_DAYS})


def last_run(state: StateStore) -> str | None:
    """The date the rules last ran for (`bankcrm care generate`), or None."""
    events = state.audit_events(event="care_tasks_generated", limit=1)
    return json.loads(events.detail_json.iloc[0])["on"] if not events.empty else None


def reason_text(task, lang: str) -> str:
    """What a task asks for: the branch head's note, or the rule in words with its figure."""
    if isinstance(task.reason, str) and task.reason:
        return task.reason
    if isinstance(task.detail_json, str):
        return describe(task.kind, json.loads(task.detail_json), lang)
    return ""


def customers_of(sl: Slice, customer_ids: tuple[int, ...]) -> pd.DataFrame:
    """customer_id, name (masked as the scope says) and aum_cny (as of the customer's latest month-end) of the
    given customers in scope: who a task is for, and how much is at stake."""
    customers = sl.scoped.table("customers")
    current = sl.scoped.table("customer_current").select("customer_id", "aum_cny")
    wanted = customers.filter(customers.customer_id.isin(list(customer_ids))).select("customer_id", "name")
    return wanted.left_join(current, "customer_id").select(wanted.customer_id, wanted.name, current.aum_cny).execute()
