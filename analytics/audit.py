"""The audit log as people read it: each event's detail in words, in the person's language.

The log itself (analytics.state) keeps codes and JSON, append-only and
chained, and is never changed for reading; here a detail such as
`{"what": "tiers", "format": "csv", "rows": 5, "filters": {"tiers": "Wealth"}}`
reads "File: tiers.csv · Rows: 5 · Filters: (Tier: Wealth)": each known key by
its name, codes (roles, outcomes, products, filters ...) by their terms, days
in the language, moments in local time. A key this version does not know is
shown as it is.
"""

from __future__ import annotations

import datetime as dt
import json

from analytics import config
from analytics import format as fmt
from analytics.i18n import TEXT, t, term

# how the value of each key reads: "term:<kind>" (a code, or a list of codes, of that kind), or a reader below
KEYS = {
    "file": "text", "rows": "count", "filters": "filters", "list": "list", "spec": "list", "page": "page",
    "customer_id": "text", "branch_code": "text", "branches": "text", "reason": "term:audit_reason",
    "username": "text", "typed": "text", "new_role": "term:role", "sessions_ended": "count", "session": "text",
    "client": "term:client", "failures": "count", "lock_number": "count", "locked_until": "time", "wait_s": "count",
    "task_id": "text", "rm_id": "text", "kind": "term:task", "outcome": "term:outcome", "on": "date",
    "created": "per_kind", "expired": "per_kind", "campaign_id": "text", "name": "text", "product": "term:product",
    "leads": "count", "expected": "score", "first_lead_id": "text", "version": "text", "based_on": "text",
    "comment": "text", "changes": "changes", "table": "text", "added": "count", "updated": "count",
    "unchanged": "count", "problems": "count", "first": "text",
}
# the filters of a download (analytics.filters.Filters.to_query) and the list of a campaign (campaigns.ListSpec)
FILTER_KEYS = {"start": ("filters.period", "month"), "end": ("filters.period_end", "month"),
               "regions": ("filters.regions", "term:region"), "branches": ("filters.branches", "text"),
               "tiers": ("filters.tiers", "term:tier"), "products": ("filters.products", "term:product"),
               "channels": ("filters.channels", "term:channel"), "tags": ("filters.tags", "term:tag")}
LIST_KEYS = {"product": ("col.product", "term:product"), "min_probability": ("campaigns.min_probability", "pct"),
             "size": ("campaigns.size", "count"), "tiers": ("campaigns.tiers", "term:tier"),
             "branches": ("campaigns.branches", "text"), "rms": ("campaigns.rms", "text"),
             "tags": ("campaigns.tags", "term:tag"), "stages": ("campaigns.stages", "term:stage"),
             "segments": ("campaigns.segments", "text")}
DOWNLOAD_FILES = {"csv": "csv", "excel": "xlsx"}

# between pairs, inside a nested detail, between the items of a list, after a name; brackets around a nested detail
_PUNCTUATION = {"en": (" · ", "; ", ", ", ": ", "(", ")"), "zh": (" · ", "；", "、", "：", "（", "）")}


def detail_text(detail_json: str | None, lang: str) -> str:
    """An event's detail as "name: value" pairs in `lang`, never JSON."""
    detail = json.loads(detail_json) if detail_json else {}
    if "what" in detail and "format" in detail:  # a download: the file the person got
        what, kind = detail.pop("what"), detail.pop("format")
        detail = {"file": f"{what}.{DOWNLOAD_FILES.get(kind, kind)}", **detail}
    between, *_ = _PUNCTUATION[lang]
    return between.join(_pair(_label(key, lang), KEYS.get(key, "text"), value, lang) for key, value in detail.items())


def _label(key: str, lang: str) -> str:
    return t(f"audit.detail.{key}", lang) if f"audit.detail.{key}" in TEXT else key


def _pair(label: str, reader: str, value, lang: str) -> str:
    return f"{label}{_PUNCTUATION[lang][3]}{_value(reader, value, lang)}"


def _nested(pairs: list[tuple[str, str, object]], lang: str, empty: str = "–") -> str:
    _, inside, _, _, opening, closing = _PUNCTUATION[lang]
    if not pairs:
        return empty
    return opening + inside.join(_pair(label, reader, value, lang) for label, reader, value in pairs) + closing


def _value(reader: str, value, lang: str) -> str:
    items = _PUNCTUATION[lang][2]
    if value is None or value == "":
        return "–"
    if reader == "filters":  # an empty set of filters is everything
        return _nested([(t(FILTER_KEYS[k][0], lang), FILTER_KEYS[k][1], v) for k, v in value.items() if k in FILTER_KEYS]
                       + [(k, "text", v) for k, v in value.items() if k not in FILTER_KEYS], lang, t("filters.all", lang))
    if reader == "list":
        return _nested([(t(LIST_KEYS[k][0], lang), LIST_KEYS[k][1], v) if k in LIST_KEYS else (k, "text", v)
                        for k, v in value.items() if v not in (None, [], ())], lang)
    if reader == "per_kind":
        return _nested([(term("task", k, lang), "count", n) for k, n in value.items()], lang)
    if reader == "changes":  # a rule's value before and after
        return _nested([(t(f"rule.{k}", lang) if f"rule.{k}" in TEXT else k, "change", v) for k, v in value.items()],
                       lang)
    if reader == "change":
        return " → ".join(_plain(v, lang) for v in value)
    if isinstance(value, str) and reader.startswith("term:") and "," in value:  # a filter's codes, comma-joined
        value = value.split(",")
    if isinstance(value, list | tuple):
        return items.join(_value(reader, v, lang) for v in value) or "–"
    if reader.startswith("term:"):
        return term(reader[5:], value, lang)
    if reader == "page":
        return t(f"page.{value}", lang) if f"page.{value}" in TEXT else str(value)
    if isinstance(value, dict):
        return _plain(value, lang)
    readers = {"text": lambda: str(value), "count": lambda: fmt.count(value), "score": lambda: fmt.score(value),
               "pct": lambda: fmt.pct(value, lang, digits=0), "month": lambda: fmt.month(value, lang),
               "date": lambda: fmt.date(value, lang), "time": lambda: fmt.time(value, lang)}
    return readers[reader]()


def _plain(value, lang: str) -> str:
    """A value of no known kind, readable: numbers with thousands separators, lists and mappings spelt out."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return _PUNCTUATION[lang][2].join(_plain(v, lang) for v in value)
    if isinstance(value, dict):
        return _nested([(str(k), "text", v) for k, v in value.items()], lang)
    return str(value)


def utc_start(day: dt.date) -> dt.datetime:
    """The moment, in UTC as the log keeps it, at which `day` begins in local time (analytics.config.local_zone):
    "since 1 June" in Shanghai reads events from 31 May 16:00 UTC on."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=config.local_zone())
    return local.astimezone(dt.UTC).replace(tzinfo=None)
