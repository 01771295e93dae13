"""Sign-in, roles, refusals, lockout, expiry and the audit trail, through the real app.py."""

from __future__ import annotations

import json
import secrets
import shutil

import jwt
import pytest
from streamlit.testing.v1 import AppTest

from analytics import i18n, state, store
from analytics.kpis import KPIS
from auth import signin
from auth.roles import PAGES, allowed
from auth.sessions import Sessions
from auth.users import DEMO_PASSWORD, DEMO_USERS_FILE, UsersFile

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
    assert apptest.menu(at) == []


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
    assert apptest.menu(at) == [p.title for p in PAGES if allowed(role, p.key)]
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


def frames(at: AppTest) -> list:
    """The page's component frames (iframes): each answers the server with a rerun of the whole page."""
    return at.get("component_instance")


def cookie_written(at: AppTest) -> dict | None:
    """What this run's page writes into the browser's sign-in cookie (name, value, expiry, Secure), if anything."""
    writers = at.get("bidi_component")
    assert len(writers) <= 1
    return json.loads(writers[0].proto.json) if writers else None


def test_signing_in_draws_the_overview_in_the_run_that_signs_in(env):
    """One run from the click to the Overview: the form gone and the page drawn, and no frame on the page that
    would run it again when it answers (a sign-in drew the Overview three times, the form staying until the
    second)."""
    at = apptest.app().run()
    assert apptest.signed_in_form_shown(at) and not frames(at)
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Username"].input("exec")
    form_inputs["Password"].input(DEMO_PASSWORD)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception and not apptest.signed_in_form_shown(at)
    assert at.title[0].value == "Overview" and len(at.metric) == len(KPIS)
    assert [b.label for b in at.sidebar.button if b.key == "sign_out"] == ["Sign out"]
    assert not frames(at)


def test_the_run_that_signs_in_sets_the_cookie_of_its_session_and_a_sign_out_deletes_it(env):
    at = apptest.sign_in(apptest.app(), "exec")
    cookie = cookie_written(at)
    users = UsersFile()
    token = jwt.decode(cookie["value"], users.cookie["key"], algorithms=["HS256"])
    assert cookie["name"] == users.cookie["name"] and token["username"] == "exec"
    assert token["session"] == at.session_state[signin.KEY_SESSION]
    assert cookie["expires_ms"] / 1000 == pytest.approx(token["exp_date"], abs=1)
    assert cookie_written(at.run()) is None  # written once, by the run that signed in
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert apptest.signed_in_form_shown(at)
    assert cookie_written(at) == {"name": users.cookie["name"], "value": "", "expires_ms": 0, "secure": False}


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
    failed = env.audit_events(event="login_failed")
    assert failed["actor"].tolist() == ["analyst"] * 6  # the right password during the lock is refused and audited
    assert [json.loads(d)["reason"] for d in failed.detail_json] == ["locked"] + ["wrong password"] * 5
    assert len(env.audit_events(event="lockout")) == 1
    other = apptest.sign_in(apptest.app(), "exec")
    assert other.metric, "one user's lock must not lock another"


def test_sign_out_returns_to_the_form_and_is_audited(env):
    at = apptest.sign_in(apptest.app(), "exec")
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert apptest.signed_in_form_shown(at) and not shows_data(at)
    assert "You are signed out." in [i.value for i in at.info]
    assert env.audit_events(event="logout")["actor"].tolist() == ["exec"]


def _age_sessions(state, **columns) -> None:
    """Move every session's times back, as if they had been used that long ago."""
    with state.transaction() as con:
        for column, when in columns.items():
            con.execute(f"UPDATE sessions SET {column} = ?", [when])  # noqa: S608 (a column name of this test)


def test_idle_session_expires(env):
    at = apptest.sign_in(apptest.app(), "exec")
    _age_sessions(env, last_seen_at="2000-01-01 00:00:00.000")
    at.run()
    assert apptest.signed_in_form_shown(at) and not shows_data(at)
    assert "Your session expired after 30 minutes without activity. Please sign in again." in [i.value for i in at.info]
    assert env.audit_events(event="session_expired")["actor"].tolist() == ["exec"]


def test_the_idle_timeout_holds_across_tabs(env):
    """Tabs share the session record: one tab's use keeps the other alive, and after 30 minutes of no use in any
    of them, the next click in any tab (or a new tab, whose cookie names the same session) asks for the password."""
    first = apptest.sign_in(apptest.app(), "exec")
    session = first.session_state[signin.KEY_SESSION]
    assert Sessions(env).check(session, UsersFile().get("exec")) is None  # what a second tab's cookie does
    _age_sessions(env, last_seen_at="2000-01-01 00:00:00.000")
    assert Sessions(env).check(session, UsersFile().get("exec")) == "session_expired"
    first.run()
    assert apptest.signed_in_form_shown(first) and not shows_data(first)


@pytest.mark.parametrize("change, reason", [
    (lambda users: users.reset_password("exec", "another-long-password"), "account_changed"),
    (lambda users: users.set_role("exec", "analyst"), "account_changed"),
    (lambda users: users.disable("exec"), "account_changed"),
])
def test_a_password_reset_role_change_or_disabling_ends_the_user_s_open_sessions(env, tmp_path, monkeypatch,
                                                                                 change, reason):
    users_file = tmp_path / "users.yaml"
    shutil.copyfile(DEMO_USERS_FILE, users_file)
    monkeypatch.setenv("BANKCRM_USERS", str(users_file))
    at = apptest.sign_in(apptest.app(), "exec")
    assert at.metric
    change(UsersFile(users_file))
    at.run()
    assert apptest.signed_in_form_shown(at) and not shows_data(at)
    [ended] = env.audit_events(event="session_ended")["detail_json"].map(json.loads)
    assert ended["reason"] == reason


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


@pytest.mark.parametrize("mode", ["production", "Production", "prod", "prodcution"])
def test_anything_but_demo_mode_refuses_demo_settings_and_says_only_that(env, monkeypatch, caplog, mode):
    """Fail closed: any BANKCRM_ENV but unset or demo is production. Visitors read one sentence, no user names
    and no paths; the reasons go to the server log."""
    monkeypatch.setenv("BANKCRM_ENV", mode)
    at = apptest.app().run()
    [message] = [e.value for e in at.error]
    assert message == i18n.t("config.refused")
    assert not apptest.signed_in_form_shown(at) and not shows_data(at)
    logged = caplog.text
    for reason in ("demo users file", "demo password", "BANKCRM_COOKIE_KEY is not set", "BANKCRM_PSEUDONYM_KEY",
                   "BANKCRM_AUDIT_KEY", "BANKCRM_STORE_KEY"):
        assert reason in logged and reason not in message


def test_production_starts_with_own_users_and_secrets(env, demo_store, tmp_path, monkeypatch):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("ops", "Ops", "admin", "a-long-and-private-pass")
    keys = {name: secrets.token_hex(32) for name in ("COOKIE", "PSEUDONYM", "AUDIT", "STORE")}
    for name, key in keys.items():
        monkeypatch.setenv(f"BANKCRM_{name}_KEY", key)
    encrypted = tmp_path / "encrypted.duckdb"
    shutil.copyfile(demo_store, encrypted)
    store.upgrade(encrypted, rebuild_marts=True)  # encrypted, and pseudonyms with this deployment's key
    assert store.is_encrypted(encrypted)
    monkeypatch.setenv("BANKCRM_STORE", str(encrypted))
    monkeypatch.setenv("BANKCRM_USERS", str(users.path))
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
    at.selectbox(key="care_kind").set_value("churn_risk")
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


def test_the_audit_page_shows_each_event_s_client_beside_its_user(env):
    state.set_client("203.0.113.7")
    try:
        env.record("exec", "download", role="executive", what="customers")
    finally:
        state.set_client(None)
    at = apptest.open_page(apptest.sign_in(apptest.app(), "admin"), "audit")
    assert not at.exception
    frame = apptest.frame_with(at, "col.client")
    headers = list(frame.columns)
    assert headers.index(i18n.t("col.client")) == headers.index(i18n.t("col.actor")) + 1
    assert frame.loc[frame[i18n.t("col.actor")] == "exec", i18n.t("col.client")].tolist() == ["203.0.113.7"]
