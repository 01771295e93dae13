"""Sign-in, roles, refusals, lockout, expiry and the audit trail, through the real app.py."""

from __future__ import annotations

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from auth import signin
from auth.roles import PAGES, allowed
from auth.users import DEMO_USERS_FILE, UsersFile

from . import apptest
from .conftest import ROOT
from .rendering import shown_markdown

DEMO_USERS = {"exec": "executive", "analyst": "analyst", "admin": "admin", "head_sh01": "branch_head"}


@pytest.fixture
def env(app_env):
    return app_env


def shows_data(at: AppTest) -> bool:
    return bool(at.metric or at.dataframe or at.get("plotly_chart"))


@pytest.mark.parametrize("page", [p.key for p in PAGES])
def test_unauthenticated_every_page_shows_the_sign_in_form_and_nothing_else(env, page):
    at = apptest.app()
    at.run()
    apptest.open_page(at, page)
    assert not at.exception
    assert apptest.signed_in_form_shown(at)
    assert not shows_data(at) and not at.title


def test_a_page_file_run_directly_still_asks_for_sign_in(env):
    """Streamlit may run a file of pages/ by itself (legacy multipage folder): the guard routes it through app.py."""
    at = AppTest.from_file(str(ROOT / "pages" / "audit.py"), default_timeout=60).run()
    assert not at.exception
    assert apptest.signed_in_form_shown(at) and not shows_data(at)


@pytest.mark.parametrize("username", DEMO_USERS)
def test_each_role_opens_its_pages_and_is_refused_the_others(env, username):
    role = DEMO_USERS[username]
    at = apptest.sign_in(apptest.app(), username)
    assert not at.exception and not apptest.signed_in_form_shown(at)
    links = [link.label for link in at.sidebar.get("page_link")]
    assert links == [p.title for p in PAGES if allowed(role, p.key)]
    for page in PAGES:
        apptest.open_page(at, page.key)
        assert not at.exception, (username, page.key)
        refused = [e.value for e in at.error if "may not open" in e.value]
        if allowed(role, page.key):
            assert not refused and at.title[0].value == page.title
        else:
            assert refused and not shows_data(at) and not at.title
            assert env.audit_events(actor=username, event="page_refused")["detail_json"].map(json.loads).map(
                lambda d: d["page"]).tolist()[0] == page.key


def test_sign_in_is_audited_with_role_and_branches(env):
    apptest.sign_in(apptest.app(), "head_sh01")
    [detail] = env.audit_events(event="login")["detail_json"].map(json.loads)
    assert detail == {"branches": ["SH01"]}
    assert env.audit_events(event="login")["role"].tolist() == ["branch_head"]


def test_scope_follows_the_role(env):
    expectations = {"exec": (None, "masked"), "analyst": (None, "pseudonym"), "admin": (None, "shown"),
                    "head_sh01": (frozenset({"SH01"}), "shown")}
    for username, (branches, pii) in expectations.items():
        at = apptest.sign_in(apptest.app(), username)
        scope = at.session_state[signin.KEY_SCOPE]
        assert (scope.user, scope.branch_codes, scope.pii) == (username, branches, pii)


def test_wrong_password_is_refused_and_audited(env):
    at = apptest.sign_in(apptest.app(), "exec", "not-the-password")
    assert "Username or password is incorrect." in [e.value for e in at.error]
    assert not shows_data(at)
    assert env.audit_events(event="login_failed")["actor"].tolist() == ["exec"]


def test_unknown_user_is_refused_like_a_wrong_password(env):
    at = apptest.sign_in(apptest.app(), "nobody", "whatever-it-is")
    assert "Username or password is incorrect." in [e.value for e in at.error]
    assert env.audit_events(event="login_failed")["actor"].tolist() == ["(unknown)"]


def test_five_failures_lock_the_user_even_against_the_right_password(env):
    at = apptest.app()
    for _ in range(5):
        apptest.sign_in(at, "analyst", "wrong-password")
    assert any("locked until" in e.value for e in at.error)
    apptest.sign_in(at, "analyst")
    assert any("locked until" in e.value for e in at.error)
    assert not shows_data(at)
    assert env.audit_events(event="login_failed")["actor"].tolist() == ["analyst"] * 5
    assert len(env.audit_events(event="lockout")) == 1
    other = apptest.sign_in(apptest.app(), "exec")
    assert other.metric, "one user's lock must not lock another"


def test_sign_out_returns_to_the_form_and_is_audited(env):
    at = apptest.sign_in(apptest.app(), "exec")
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert apptest.signed_in_form_shown(at) and not shows_data(at)
    assert "You are signed out." in [i.value for i in at.info]
    assert env.audit_events(event="logout")["actor"].tolist() == ["exec"]


def test_idle_session_expires(env):
    at = apptest.sign_in(apptest.app(), "exec")
    at.session_state[signin.KEY_SEEN] = at.session_state[signin.KEY_SEEN] - signin.IDLE_TIMEOUT.total_seconds() - 1
    at.run()
    assert apptest.signed_in_form_shown(at) and not shows_data(at)
    assert env.audit_events(event="session_expired")["actor"].tolist() == ["exec"]


def test_a_disabled_user_cannot_sign_in(env, tmp_path, monkeypatch):
    users_file = tmp_path / "users.yaml"
    shutil.copyfile(DEMO_USERS_FILE, users_file)
    UsersFile(users_file).disable("analyst")
    monkeypatch.setenv("BANKCRM_USERS", str(users_file))
    at = apptest.sign_in(apptest.app(), "analyst")
    assert "Username or password is incorrect." in [e.value for e in at.error] and not shows_data(at)


def test_the_library_prints_no_token_noise(env, capsys):
    apptest.sign_in(apptest.app(), "exec")
    assert "Invalid token type" not in capsys.readouterr().out


def test_production_refuses_demo_settings_and_says_why(env, monkeypatch):
    monkeypatch.setenv("BANKCRM_ENV", "production")
    at = apptest.app().run()
    message = at.error[0].value
    assert "will not start in production" in message
    for reason in ("demo users file", "demo password", "demo key", "pseudonyms"):
        assert reason in message
    assert not apptest.signed_in_form_shown(at)


def test_production_starts_with_own_users_and_secrets(env, tmp_path, monkeypatch):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("ops", "Ops", "admin", "a-long-and-private-pass")
    monkeypatch.setenv("BANKCRM_USERS", str(users.path))
    monkeypatch.setenv("BANKCRM_COOKIE_KEY", "k" * 40)
    monkeypatch.setenv("BANKCRM_PSEUDONYM_KEY", "p" * 40)
    monkeypatch.setenv("BANKCRM_ENV", "production")
    at = apptest.sign_in(apptest.app(), "ops", "a-long-and-private-pass")
    assert not at.exception and at.metric


def test_branch_head_assigns_a_care_task_to_the_customer_s_rm(env):
    at = apptest.sign_in(apptest.app(), "head_sh01")
    apptest.open_page(at, "churn")
    first = at.dataframe[0].value.iloc[0]
    note = next(t for t in at.text_input if t.label == "Note for the relationship manager")
    first = first.rename({"RM id": "rm", "Customer id": "customer_id"})
    note.input("Call about the falling balance")
    next(b for b in at.button if b.label == "Assign").click().run()
    assert not at.exception
    assert any(f"assigned to {first['rm']}" in shown_markdown(s.value) for s in at.success)
    [event] = env.audit_events(event="care_task_assigned")["detail_json"].map(json.loads)
    assert (event["customer_id"], event["rm_id"], event["kind"]) == (int(first["customer_id"]), first["rm"], "churn_risk")
    tasks = at.dataframe[1].value
    assert tasks.iloc[0]["Reason"] == "Call about the falling balance" and tasks.iloc[0]["Assigned by"] == "head_sh01"


def test_only_branch_heads_may_assign_care_tasks(env):
    for username in ("exec", "analyst", "admin"):
        at = apptest.sign_in(apptest.app(), username)
        apptest.open_page(at, "churn")
        assert at.dataframe and not [b for b in at.button if b.label == "Assign"], username
