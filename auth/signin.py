"""Sign-in for the app: streamlit-authenticator's form and cookie, with bankcrm's own checks.

`signed_in()` is called once per run from app.py. It builds the
authenticator (once per run, from a fresh copy of the users file: the
library mutates what it is given, and it never gets the file's path, so it
never rewrites the file) and takes over three of its steps:

- the password check (`Gate`): throttling per client address and overall
  (auth.throttle), lockout per account and client address (auth.lockout),
  the same message and the same bcrypt work for unknown and known names,
  and an audit row for every attempt;
- the cookie: it carries the id of a server-side session (auth.sessions),
  and signs in again only while that session is live;
- every run of a signed-in page checks the session, so a sign-out, an
  expiry, an admin, a changed account or a lockout ends it at the next click.

The cookie is written by the page itself (`BrowserCookie`), in the run that
signs in, so it cannot be HttpOnly; it is SameSite=Strict, Secure outside
demo mode, and worth nothing once its session ended.
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.models import cookie_model
from streamlit_authenticator.utilities.exceptions import LoginError

from analytics import config
from analytics import state as audit
from analytics.i18n import t
from analytics.scope import Scope
from analytics.state import StateStore
from auth import client as clients
from auth.lockout import Lockout
from auth.roles import scope_for
from auth.sessions import Sessions
from auth.throttle import Throttling
from auth.users import User, UsersFile, password_matches
from ui.text import plain

KEY_USER, KEY_SCOPE, KEY_NOTICE = "bankcrm_user", "bankcrm_scope", "bankcrm_notice"
KEY_SESSION = "bankcrm_session"    # the id of the server-side session this browser tab runs in
KEY_REFUSAL = "bankcrm_refusal"    # why the last password check failed: the message key and its values
KEY_COOKIE = "bankcrm_cookie"      # the sign-in cookie as the browser is to hold it, written as signed_in() ends
TYPED_NAME_CHARS = 64              # of an unknown user name, kept in the audit log
NOTICES = {"logout": "signin.signed_out", "session_expired": "signin.expired", "too_old": "signin.expired",
           "account_changed": "signin.changed", "ended_by_admin": "signin.ended", "ended_by_cli": "signin.changed",
           "locked": "signin.ended"}


_COOKIE_JS = """
export default function ({ data }) {
    const { name, value, expires_ms, secure } = data;
    document.cookie = `${encodeURIComponent(name)}=${encodeURIComponent(value)}; path=/; `
        + `expires=${new Date(expires_ms).toUTCString()}; SameSite=Strict` + (secure ? "; Secure" : "");
}
"""
_cookie_writer = st.components.v2.component("bankcrm.sign_in_cookie", js=_COOKIE_JS)


class BrowserCookie:
    """What streamlit-authenticator's cookie model sets and deletes its cookie with: the page writes
    document.cookie as `signed_in` ends (`_write_cookie`), and answers nothing.

    It stands in for extra-streamlit-components' CookieManager, whose frames each answer the server with a
    rerun of the page: the one that reads every cookie on every run (streamlit-authenticator 0.4.2 no longer
    reads it: it takes st.context.cookies), and the one that sets the cookie. A sign-in drew the Overview
    three times, a new tab twice."""

    def __init__(self):
        self.cookies: dict = {}  # what the library's model expects to find; nothing reads it

    def set(self, cookie: str, val: str, expires_at: datetime, secure: bool) -> None:
        st.session_state[KEY_COOKIE] = {"name": cookie, "value": val, "expires_ms": expires_at.timestamp() * 1000,
                                        "secure": secure}

    def delete(self, cookie: str) -> None:
        st.session_state[KEY_COOKIE] = {"name": cookie, "value": "", "expires_ms": 0, "secure": not config.is_demo()}


def _write_cookie() -> None:
    """Set or delete the cookie as this run (or a sign-out that ran the page again at once, which drops what its
    own run drew) left it to be."""
    if cookie := st.session_state.pop(KEY_COOKIE, None):
        st.html("<style>.st-key-sign_in_cookie { display: none; }</style>")  # it shows nothing: no room for it
        _cookie_writer(data=cookie, key="sign_in_cookie")


cookie_model.stx = types.SimpleNamespace(CookieManager=BrowserCookie)  # the only name the model reads there


@dataclass(frozen=True)
class SignedIn:
    user: User
    scope: Scope


def signed_in(users: UsersFile, state: StateStore, lang: str = "en") -> SignedIn | None:
    client = clients.address()
    audit.set_client(client)  # every audit row of this run carries it
    sessions = Sessions(state)
    credentials = users.credentials()
    entries = credentials["usernames"]
    for username in [u for u, entry in entries.items() if entry.get("disabled")]:
        del entries[username]  # a disabled user's cookie no longer signs in either
    cookie = users.cookie
    authenticator = stauth.Authenticate(credentials, cookie["name"], cookie["key"], float(cookie["expiry_days"]),
                                        auto_hash=False, login_sleep_time=0)
    gate = Gate(users, state, client)
    authenticator.authentication_controller.authentication_model.check_credentials = gate.check
    _bind_cookie(authenticator, users, sessions, client)

    signed_in_before = st.session_state.get("authentication_status")
    if signed_in_before:
        if _sign_out_button(lang):
            _sign_out(authenticator, sessions, state, "logout", lang)
        elif ended := sessions.check(st.session_state.get(KEY_SESSION), users.get(st.session_state.get("username"))):
            _sign_out(authenticator, sessions, state, ended, lang)

    found = _sign_in(authenticator, users, state, lang)
    if found and not signed_in_before:  # signed in by this run, which draws the page too
        _sign_out_button(lang)
    _write_cookie()
    return found


def _sign_out_button(lang: str) -> bool:
    return st.sidebar.button(t("signin.signout", lang), key="sign_out")


def _sign_in(authenticator, users: UsersFile, state: StateStore, lang: str) -> SignedIn | None:
    """The form, or the cookie, or the session this tab signed in before."""
    if st.session_state.get("authentication_status") is False:
        st.session_state["authentication_status"] = None  # so that a failure below is this run's
    if notice := st.session_state.pop(KEY_NOTICE, None):
        st.info(notice)
    form = st.empty()
    try:
        with form.container():
            authenticator.login(location="main", key="sign_in",
                                fields={"Form name": t("signin.form", lang), "Username": t("signin.username", lang),
                                        "Password": t("signin.password", lang), "Login": t("signin.submit", lang)})
    except LoginError:  # a cookie for a user who was disabled or removed
        authenticator.logout(location="unrendered")
        st.warning(t("signin.inactive", lang))
        return None

    status = st.session_state.get("authentication_status")
    if status is False:
        key, values = st.session_state.pop(KEY_REFUSAL, ("signin.wrong", {}))
        st.error(t(key, lang, **values))
        return None
    if not status:
        return None
    form.empty()  # signed in by this run: the page follows in the same run, without the form above it
    return _session(users.get(st.session_state["username"]), authenticator, state, lang)


class Gate:
    """The password check the library calls for a submitted form: throttling, lockout, bcrypt, audit."""

    def __init__(self, users: UsersFile, state: StateStore, client: str):
        self.users, self.state, self.client = users, state, client
        self.lockout, self.throttling = Lockout(state), Throttling(state)

    def check(self, username: str, password: str) -> bool:
        user = self.users.get(username)
        known = user is not None and not user.disabled
        actor, typed = (username, {}) if known else ("(unknown)", {"typed": _typed(username)})
        if wait := self.throttling.wait_s(self.client):
            self.state.record(actor, "sign_in_throttled", wait_s=wait, **typed)
            _wait(wait)
        # the same bcrypt work for every name, so the time taken does not tell whether it exists
        matches = password_matches(password, user.password_hash if known else _unusable_hash(self.users))
        if known and (until := self.lockout.locked_until(username, self.client)):
            self.state.record(actor, "login_failed", reason="locked", locked_until=f"{until:%Y-%m-%d %H:%M:%S}")
            self.throttling.failed(self.client)
            return self._refused("signin.locked", until=f"{until:%H:%M:%S}")
        if known and matches:
            self.lockout.succeeded(username, self.client)
            return True
        self.throttling.failed(self.client)
        if not known:
            self.state.record(actor, "login_failed", reason="no such user", **typed)
            return self._refused("signin.wrong")
        self.state.record(actor, "login_failed", reason="wrong password")
        if until := self.lockout.failed(username, self.client):
            Sessions(self.state).end_all(username, "locked", client=self.client)
            return self._refused("signin.locked", until=f"{until:%H:%M:%S}")
        return self._refused("signin.wrong")

    @staticmethod
    def _refused(key: str, **values) -> bool:
        st.session_state[KEY_REFUSAL] = (key, values)
        return False


def _wait(seconds: float) -> None:
    time.sleep(seconds)


@st.cache_resource(show_spinner=False)
def _unusable_hashes() -> dict:
    return {}


def _unusable_hash(users: UsersFile) -> str:
    """A bcrypt hash no password matches, at the cost factor of the users file's own hashes."""
    known = [u.password_hash for u in users.users() if u.password_hash.startswith("$2")]
    rounds = int(known[0].split("$")[2]) if known else 12
    cache = _unusable_hashes()
    if rounds not in cache:
        cache[rounds] = bcrypt.hashpw(bcrypt.gensalt(4), bcrypt.gensalt(rounds)).decode()
    return cache[rounds]


def _typed(username: str) -> str:
    """What someone typed as a user name, for the audit log: cut short, control characters escaped."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in (username or "")[:TYPED_NAME_CHARS])


def _bind_cookie(authenticator, users: UsersFile, sessions: Sessions, client: str) -> None:
    """The sign-in cookie carries the id of a live server-side session, and signs in only while it is live.

    streamlit-authenticator 0.4.2 hands whatever `st.context.cookies` holds to jwt.decode; anything but text
    (under Streamlit's AppTest every cookie is a mock) is treated as no cookie, silently."""
    model = authenticator.cookie_controller.cookie_model

    def decode():
        if not isinstance(model.token, str):
            return False
        try:
            token = jwt.decode(model.token, model.cookie_key, algorithms=["HS256"])
        except jwt.PyJWTError:
            return False
        session_id, user = token.get("session"), users.get(str(token.get("username")))
        if sessions.check(session_id, user) is not None:
            return False
        st.session_state[KEY_SESSION] = session_id
        return token

    def set_cookie():
        user = users.get(st.session_state["username"])
        st.session_state[KEY_SESSION] = session_id = sessions.start(user, client)
        expires = datetime.now() + timedelta(days=model.cookie_expiry_days)
        token = jwt.encode({"username": user.username, "exp_date": expires.timestamp(), "session": session_id},
                           model.cookie_key, algorithm="HS256")
        model.cookie_manager.set(model.cookie_name, token, expires_at=expires, secure=not config.is_demo())

    model._token_decode = decode
    model.set_cookie = set_cookie


def _session(user: User | None, authenticator, state: StateStore, lang: str) -> SignedIn | None:
    if user is None or user.disabled:
        authenticator.logout(location="unrendered")
        st.warning(t("signin.inactive", lang))
        return None
    if st.session_state.get(KEY_USER) != user.username:
        try:
            scope = scope_for(user.username, user.role, user.branches)
        except ValueError as problem:
            authenticator.logout(location="unrendered")
            st.error(t("signin.unusable", lang, problem=plain(problem)))
            return None
        st.session_state[KEY_USER], st.session_state[KEY_SCOPE] = user.username, scope
        state.record(user.username, "login", role=user.role, branches=list(user.branches))
    return SignedIn(user, st.session_state[KEY_SCOPE])


def _sign_out(authenticator, sessions: Sessions, state: StateStore, reason: str, lang: str) -> None:
    """End the session (the record, the cookie, this tab's state), audited, with a notice saying why, and run the
    page again: Streamlit drops a file a download button served once two runs have not drawn it, so after the
    next run nothing this tab downloaded can be fetched from the server any more."""
    username = st.session_state.get(KEY_USER) or st.session_state.get("username") or "(unknown)"
    scope: Scope | None = st.session_state.get(KEY_SCOPE)
    if session_id := st.session_state.pop(KEY_SESSION, None):
        sessions.end(session_id, reason)
    event = {"logout": "logout", "session_expired": "session_expired", "too_old": "session_expired"}.get(reason,
                                                                                                        "session_ended")
    state.record(username, event, role=scope.role if scope else None, reason=reason)
    authenticator.logout(location="unrendered")
    for key in (KEY_USER, KEY_SCOPE):
        st.session_state.pop(key, None)
    st.session_state[KEY_NOTICE] = t(NOTICES[reason], lang)
    st.rerun()
