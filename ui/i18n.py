"""The session's language: a switch in the sidebar, kept in the URL (`?lang=zh`)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from analytics import format as fmt
from analytics import i18n
from ui.text import plain

KEY_LANG, KEY_CHOICE = "lang", "lang_choice"


def lang() -> str:
    return st.session_state.get(KEY_LANG) or "en"


def t(key: str, **values) -> str:
    """The message `key` for a Streamlit element, which reads it as markdown (nearly all do): the message's own
    markdown works, each value reads as itself, whatever it holds (ui.text.plain)."""
    return i18n.t(key, lang(), **{name: plain(value) for name, value in values.items()})


def message(key: str, **values) -> str:
    """The message `key` with its values as they are, for a place that reads no markdown: a chart (ui.charts
    shows its text as text), a selectbox option, a table cell."""
    return i18n.t(key, lang(), **values)


def term(kind: str, code, *, in_sentence: bool = False) -> str:
    """A code's name as a label or a value ("Churn risk"), or `in_sentence` ("... is done: stays with us.")."""
    return i18n.term(kind, code, lang(), in_sentence=in_sentence)


def _chosen() -> None:
    st.session_state[KEY_LANG] = st.session_state[KEY_CHOICE]


def switch() -> str:
    """The language control; a link's `lang` wins on a session's first run. The language is kept
    apart from the widget, which Streamlit forgets on a run that does not draw it."""
    if KEY_LANG not in st.session_state:
        asked = st.query_params.get(KEY_LANG)
        st.session_state[KEY_LANG] = asked if asked in i18n.LANGS else "en"
    st.session_state[KEY_CHOICE] = lang()
    st.sidebar.radio("Language", i18n.LANGS, format_func=i18n.LANG_NAMES.get, key=KEY_CHOICE, horizontal=True,
                     label_visibility="collapsed", on_change=_chosen)
    if lang() == "en":
        st.query_params.pop(KEY_LANG, None)
    else:
        st.query_params[KEY_LANG] = lang()
    return lang()


# Widgets keep their format_func and may call it after the run (AppTest does): these fix the language
# of the run that drew the widget instead of reading the session again.
def namer(kind: str) -> Callable:
    chosen = lang()
    return lambda code: i18n.term(kind, code, chosen)


def texts(keys: dict) -> Callable:
    """Options found in `keys` read as that message; others as themselves."""
    chosen = lang()
    return lambda value: i18n.t(keys[value], chosen) if value in keys else value


def month_names() -> Callable:
    chosen = lang()
    return lambda month: fmt.month(month, chosen)


def day_names() -> Callable:
    chosen = lang()
    return lambda day: fmt.date(day, chosen)
