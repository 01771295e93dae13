"""Every action checks its role (and scope) in analytics: each is called directly, as a crafted request would, with
every role that may not do it and, where it has one, with another branch."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from analytics import campaigns, care, permissions, portfolio
from analytics.filters import Slice
from analytics.rulebook import Refused, RuleBook
from analytics.rules import DEFAULT_RULES
from analytics.scope import OutOfScope, Scope, ScopedStore
from analytics.state import StateStore
from auth.roles import PII_BY_ROLE, ROLES
from auth.sessions import Sessions
from auth.users import DEMO_USERS_FILE, UsersFile


def scope_of(role: str, branches=None) -> Scope:
    return Scope(f"a-{role}", role, frozenset(branches) if branches else None, PII_BY_ROLE[role])


@pytest.fixture
def state(tmp_path):
    return StateStore(tmp_path / "state.sqlite")


@pytest.fixture(scope="module")
def backend(hand_store):
    """The hand-built store on DuckDB: the refusals come before any figure, on every engine alike."""
    return ibis.duckdb.connect(str(hand_store), read_only=True)


def assign(state, backend, scope, customer_id=1):
    return care.assign(state, ScopedStore(backend, scope), customer_id=customer_id, kind="churn_risk", reason="call",
                       due_on=dt.date(2024, 8, 1))


def open_task(state, backend) -> int:
    return assign(state, backend, scope_of("branch_head", {"SH01"}))


def preview(backend, scope):
    return campaigns.preview(Slice(ScopedStore(backend, scope), rules=DEFAULT_RULES), campaigns.ListSpec("wealth_fund"))


def save_list(state, backend, scope):
    shown = preview(backend, scope_of("admin"))
    return campaigns.save(state, scope, campaigns.ListSpec("wealth_fund"), shown, name="x", channel="rm_call",
                          rules_version=0)


def end_session(state, backend, scope):
    sessions = Sessions(state)
    sessions.start(UsersFile(DEMO_USERS_FILE).get("exec"), "10.0.0.5")
    return sessions.end_by_admin(sessions.live().ref.iloc[0], actor=scope.user, role=scope.role)


# action -> a call of it as `scope`; each action of analytics.permissions but opening a page (test_signin) is here
CALLS = {
    "care:assign": lambda state, backend, scope: assign(state, backend, scope),
    "care:complete": lambda state, backend, scope: care.complete(state, scope, open_task(state, backend),
                                                                 outcome="retained", note=""),
    "care:read": lambda state, backend, scope: care.tasks(state, scope),
    "branches:compare": lambda state, backend, scope: portfolio.league(Slice(ScopedStore(backend, scope))),
    "campaign:build": lambda state, backend, scope: preview(backend, scope),
    "campaign:save": save_list,
    "rules:edit": lambda state, backend, scope: RuleBook(state).save(DEFAULT_RULES, author=scope.user, role=scope.role,
                                                                    comment="try"),
    "rules:decide": lambda state, backend, scope: RuleBook(state).decide(1, approve=True, actor=scope.user,
                                                                        role=scope.role, comment="ok"),
    "sessions:end": end_session,
    "audit:read": lambda state, backend, scope: state.audit_log(scope.role),
}


def test_every_action_beyond_opening_a_page_is_called_here():
    assert set(CALLS) == {a for a in permissions.ACTIONS if not a.startswith("open:")}


@pytest.mark.parametrize("action, role", [(a, r) for a in CALLS for r in ROLES if not permissions.may(r, a)])
def test_an_action_called_directly_with_a_role_that_may_not_do_it_is_refused(state, backend, action, role):
    if action == "rules:decide":  # a proposed version to decide on
        book = RuleBook(state)
        book.propose(book.save(DEFAULT_RULES, author="ana", role="analyst", comment="x"), actor="ana", role="analyst",
                     comment="please")
    with pytest.raises((permissions.Forbidden, Refused)):
        CALLS[action](state, backend, scope_of(role, {"SH01"} if role == "branch_head" else None))


@pytest.mark.parametrize("action", ["care:assign", "care:complete"])  # campaign:save: test_campaigns
def test_a_branch_head_cannot_act_on_another_branch(state, backend, action):
    with pytest.raises(OutOfScope):
        CALLS[action](state, backend, scope_of("branch_head", {"BJ01"}))


def test_the_roles_that_may_act_do(state, backend):
    head = scope_of("branch_head", {"SH01"})
    task_id = assign(state, backend, head)
    care.complete(state, head, task_id, outcome="retained", note="")
    assert len(care.tasks(state, scope_of("admin"), status="done")) == 1
    assert end_session(state, backend, scope_of("admin"))
    assert not state.audit_log("admin").empty
