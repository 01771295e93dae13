"""Sign-in for the app: streamlit-authenticator, plus lockout, expiry and audit.

`signed_in()` is called once per run from app.py. It builds the
authenticator (once per run, from a fresh copy of the users file: the
library mutates what it is given, and it never gets the file's path, so it
never rewrites the file), shows the sign-in form to anyone not signed in,
and returns who is signed in with the scope they work in.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import bcrypt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities.exceptions import LoginError

from analytics.i18n import t
from analytics.scope import Scope
from analytics.state import StateStore
from auth.lockout import Lockout
from auth.roles import scope_for
from auth.users import User, UsersFile
from ui.text import plain

IDLE_TIMEOUT = dt.timedelta(minutes=30)
# A valid bcrypt hash of a random secret: no password matches it.
_UNUSABLE_HASH = bcrypt.hashpw(bcrypt.gensalt(4), bcrypt.gensalt(4)).decode()

KEY_USER, KEY_SCOPE, KEY_SEEN, KEY_NOTICE = "bankcrm_user", "bankcrm_scope", "bankcrm_last_seen", "bankcrm_notice"


@dataclass(frozen=True)
class SignedIn:
    user: User
    scope: Scope


def signed_in(users: UsersFile, state: StateStore, lang: str = "en") -> SignedIn | None:
    lockout = Lockout(state)
    credentials = users.credentials()
    entries = credentials["usernames"]
    locked = {} if st.session_state.get("authentication_status") else lockout.locked_users()
    for username in list(entries):
        if entries[username].get("disabled"):
            del entries[username]  # a disabled user's cookie no longer signs in either
        elif username in locked:
            entries[username]["password"] = _UNUSABLE_HASH
    cookie = users.cookie
    authenticator = stauth.Authenticate(credentials, cookie["name"], cookie["key"], float(cookie["expiry_days"]),
                                        auto_hash=False, login_sleep_time=0)
    _decode_text_cookies_only(authenticator)

    if st.session_state.get("authentication_status") and st.sidebar.button(t("signin.signout", lang), key="sign_out"):
        _sign_out(authenticator, state, "logout")
        st.session_state[KEY_NOTICE] = t("signin.signed_out", lang)
    elif st.session_state.get("authentication_status") and _idle_too_long():
        _sign_out(authenticator, state, "session_expired")
        st.session_state[KEY_NOTICE] = t("signin.expired", lang)

    if st.session_state.get("authentication_status") is False:
        st.session_state["authentication_status"] = None  # so that a failure below is this run's
    if notice := st.session_state.pop(KEY_NOTICE, None):
        st.info(notice)
    try:
        authenticator.login(location="main", key="sign_in",
                            fields={"Form name": t("signin.form", lang), "Username": t("signin.username", lang),
                                    "Password": t("signin.password", lang), "Login": t("signin.submit", lang)})
    except LoginError:  # a cookie for a user who was disabled or removed
        authenticator.logout(location="unrendered")
        st.warning(t("signin.inactive", lang))
        return None

    status = st.session_state.get("authentication_status")
    if status is False:
        _failed(entries, lockout, state, lang)
        return None
    if not status:
        return None
    return _session(users.get(st.session_state["username"]), authenticator, lockout, state, lang)


def _session(user: User | None, authenticator, lockout: Lockout, state: StateStore, lang: str) -> SignedIn | None:
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
        lockout.succeeded(user.username)
        state.record(user.username, "login", role=user.role, branches=list(user.branches))
    st.session_state[KEY_SEEN] = time.time()
    return SignedIn(user, st.session_state[KEY_SCOPE])


def _failed(entries: dict, lockout: Lockout, state: StateStore, lang: str) -> None:
    tried = [u for u, entry in entries.items() if entry.get("failed_login_attempts")]
    if not tried:
        state.record("(unknown)", "login_failed", reason="no such user")
        st.error(t("signin.wrong", lang))
        return
    username = tried[0]
    until = lockout.locked_until(username)
    if until is None:
        state.record(username, "login_failed", reason="wrong password")
        until = lockout.failed(username)
    if until is None:
        st.error(t("signin.wrong", lang))
    else:
        st.error(t("signin.locked", lang, until=f"{until:%H:%M:%S}"))


def _decode_text_cookies_only(authenticator) -> None:
    """streamlit-authenticator 0.4.2 hands whatever `st.context.cookies` holds to
    jwt.decode; anything but text (under Streamlit's AppTest every cookie is a
    mock) makes PyJWT raise "Invalid token type. Token must be a <class 'bytes'>",
    which the library prints on every run. A cookie that is not text cannot be
    our token: treat it as no cookie, silently."""
    model = authenticator.cookie_controller.cookie_model
    decode = model._token_decode
    model._token_decode = lambda: decode() if isinstance(model.token, str) else False


def _idle_too_long() -> bool:
    seen = st.session_state.get(KEY_SEEN)
    return seen is not None and time.time() - seen > IDLE_TIMEOUT.total_seconds()


def _sign_out(authenticator, state: StateStore, event: str) -> None:
    username = st.session_state.get(KEY_USER) or st.session_state.get("username") or "(unknown)"
    scope: Scope | None = st.session_state.get(KEY_SCOPE)
    state.record(username, event, role=scope.role if scope else None)
    authenticator.logout(location="unrendered")
    for key in (KEY_USER, KEY_SCOPE, KEY_SEEN):
        st.session_state.pop(key, None)

