"""The global filters in the sidebar: the same on every page, and in the URL so a copied link opens
the same view. A link's filters are read on a session's first run (after sign-in); from then on the
widgets are the truth and the URL follows them."""

from __future__ import annotations

import streamlit as st

from analytics.filters import (
    CHOICES,
    KNOWN,
    BadFilter,
    Filters,
    Options,
    default_period,
)
from ui.i18n import lang, month_names, namer, t

KEY_READ = "bankcrm_filters_read"
KEY_FILTERS = "bankcrm_filters"
KEY_LINK_PROBLEM = "bankcrm_link_problem"  # shown until the person changes the filters
WIDGET = {name: f"filter_{name}" for name in ("start", "end", *CHOICES)}


def _read_link(options: Options) -> None:
    """Put the URL's filters into the widgets; whatever the scope does not hold is dropped, with a notice."""
    try:
        linked = Filters.from_query({k: st.query_params.get(k) for k in ("start", "end", *CHOICES)})
    except BadFilter as problem:
        st.session_state[KEY_LINK_PROBLEM] = str(problem)
        linked = Filters()
    allowed = _allowed(options)
    if dropped := [f"{name}={v}" for name in CHOICES for v in getattr(linked, name) if v not in allowed[name]]:
        st.session_state[KEY_LINK_PROBLEM] = ", ".join(dropped)
    for name in CHOICES:
        st.session_state[WIDGET[name]] = [v for v in getattr(linked, name) if v in allowed[name]]
    months = options.months
    start, end = default_period(months)
    start = max((m for m in months if linked.start and m <= linked.start), default=start) if linked.start else start
    end = max((m for m in months if linked.end and m <= linked.end), default=end) if linked.end else end
    st.session_state[WIDGET["start"]], st.session_state[WIDGET["end"]] = min(start, end), end


def _allowed(options: Options) -> dict[str, tuple[str, ...]]:
    return {"regions": options.regions, "branches": tuple(options.branches.branch_code), **KNOWN}


def _restore(options: Options) -> None:
    """Streamlit forgets a widget's value after a run that did not draw it (a refused page stops
    before the sidebar): put back the filters of the last run that drew them."""
    last = st.session_state.get(KEY_FILTERS, Filters())
    allowed = _allowed(options)
    for name in CHOICES:
        st.session_state[WIDGET[name]] = [v for v in getattr(last, name) if v in allowed[name]]
    start, end = default_period(options.months)
    if last.start in options.months and last.end in options.months:
        start, end = last.start, last.end
    st.session_state[WIDGET["start"]], st.session_state[WIDGET["end"]] = start, end


def _send_values_again() -> None:
    """A run can be cut short by a rerun (a click while it runs) after the filters were put
    into session state but before their widgets reached the browser. The next run would draw the
    widgets without those values, and the browser would send back its empty defaults, losing a
    link's filters. Setting every value again on each run sends it with its widget."""
    for key in WIDGET.values():
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _reset(options: Options) -> None:
    for name in CHOICES:
        st.session_state[WIDGET[name]] = []
    st.session_state[WIDGET["start"]], st.session_state[WIDGET["end"]] = default_period(options.months)


def sidebar(options: Options) -> Filters:
    """Draw the filters and return what they select; keeps the URL in step."""
    if not options.months:
        return Filters()
    if not st.session_state.get(KEY_READ):
        _read_link(options)
        st.session_state[KEY_READ] = True
    elif WIDGET["end"] not in st.session_state:
        _restore(options)
    _send_values_again()
    bar = st.sidebar
    bar.subheader(t("filters.title"))
    names = dict(zip(options.branches.branch_code,
                     options.branches["name" if lang() == "zh" else "name_en"]))
    month_name = month_names()
    # one under the other: side by side in the sidebar, "2025年11月" is cut to "2025年11丿"
    start = bar.selectbox(t("filters.period"), options.months, key=WIDGET["start"], format_func=month_name,
                          help=t("filters.period_help"))
    end = bar.selectbox(t("filters.period_end"), options.months, key=WIDGET["end"], format_func=month_name)
    start, end = min(start, end), max(start, end)
    regions = bar.multiselect(t("filters.regions"), options.regions, key=WIDGET["regions"],
                              format_func=namer("region"), placeholder=t("filters.all"))
    in_region = options.branches[options.branches.region.isin(regions)] if regions else options.branches
    if len(options.branches) > 1:
        bar.multiselect(t("filters.branches"), list(in_region.branch_code), key=WIDGET["branches"],
                        format_func=lambda code: f"{code} {names.get(code, '')}", placeholder=t("filters.all"))
    for name, kind in (("tiers", "tier"), ("products", "product"), ("channels", "channel"), ("tags", "tag")):
        bar.multiselect(t(f"filters.{name}"), KNOWN[name], key=WIDGET[name], format_func=namer(kind),
                        placeholder=t("filters.all"), help=t(f"filters.{name}_help"))
    bar.button(t("filters.reset"), on_click=_reset, args=(options,), key="filter_reset")
    branches = [b for b in st.session_state.get(WIDGET["branches"], []) if b in set(in_region.branch_code)]
    filters = Filters(start=start, end=end, regions=tuple(regions), branches=tuple(branches),
                      tiers=tuple(st.session_state[WIDGET["tiers"]]), products=tuple(st.session_state[WIDGET["products"]]),
                      channels=tuple(st.session_state[WIDGET["channels"]]), tags=tuple(st.session_state[WIDGET["tags"]]))
    _to_link(filters, options)
    if KEY_LINK_PROBLEM in st.session_state:
        if KEY_FILTERS in st.session_state and st.session_state[KEY_FILTERS] != filters:
            del st.session_state[KEY_LINK_PROBLEM]
        else:
            bar.warning(t("filters.bad_link", problem=st.session_state[KEY_LINK_PROBLEM]))
    st.session_state[KEY_FILTERS] = filters
    return filters


def _to_link(filters: Filters, options: Options) -> None:
    query = filters.to_query()
    if (filters.start, filters.end) == default_period(options.months):
        query.pop("start"), query.pop("end")
    for key in ("start", "end", *CHOICES):
        if key in query:
            st.query_params[key] = query[key]
        else:
            st.query_params.pop(key, None)


def current() -> Filters:
    """The filters drawn by app.py in this run."""
    return st.session_state.get(KEY_FILTERS, Filters())
