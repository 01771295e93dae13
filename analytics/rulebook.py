"""Rule-set versions and their adoption, maker-checker.

Every save is a new version with its author, time and comment; nothing is
overwritten (the state store's triggers refuse UPDATE and DELETE). A version
is adopted in steps: someone who may edit rules proposes it, and an admin who
neither wrote nor proposed it approves or rejects it with a comment. The
active rule set is the version of the latest approval (the built-in defaults,
version 0, until the first). Rolling back is the same two steps: someone
proposes an earlier version again, and another person approves it; nobody
re-activates a version alone. The built-in defaults are version 0 and can be
proposed again like any other (a roll-back to the defaults). Who may edit and who may decide is
`analytics.permissions` ("rules:edit", "rules:decide"). Every step and its
audit-log entry are written in one transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from analytics import permissions
from analytics.i18n import t
from analytics.rules import DEFAULT_RULES, RuleSet
from analytics.state import StateStore, append_audit, default_path, utc_now

STATUSES = ("draft", "proposed", "approved", "rejected")
# 'rolled_back': a single admin's re-activation, which older releases allowed; still read in older state stores
_STATUS_OF_STEP = {"proposed": "proposed", "approved": "approved", "rolled_back": "approved", "rejected": "rejected"}


class Refused(PermissionError):
    """A step the rules of adoption do not allow: `key` (of analytics.i18n) and `values` say why."""

    def __init__(self, key: str, **values):
        self.key, self.values = key, values
        super().__init__(t(key, "en", **values))


def in_force(store_path: Path) -> RuleSet:
    """The rule set in force for the store at `store_path`: its state store's active one (the built-in defaults
    while it has no state store), which the store's marts of tiers and stages are built with."""
    path = default_path(store_path)
    return RuleBook(StateStore(path)).active() if path.exists() else DEFAULT_RULES


class RuleBook:
    def __init__(self, state: StateStore):
        self.state = state

    # --- reading ---------------------------------------------------------------

    def active(self) -> RuleSet:
        """The rule set every page uses."""
        with self.state.connect() as con:
            return self._active(con)

    def get(self, version: int) -> RuleSet:
        with self.state.connect() as con:
            return self._get(con, version)

    def versions(self) -> pd.DataFrame:
        """Every version, newest first: version, author, created_at, comment, based_on, status, active,
        and the latest step's actor, time and comment. Version 0 (the defaults) is listed last."""
        with self.state.connect() as con:
            frame = pd.read_sql_query(
                "SELECT r.version, r.author, r.created_at, r.comment, r.based_on, s.action AS last_step,"
                " s.actor AS step_by, s.occurred_at AS step_at, s.comment AS step_comment"
                " FROM segment_rules r LEFT JOIN segment_rule_steps s ON s.step_id ="
                "  (SELECT max(step_id) FROM segment_rule_steps WHERE version = r.version)"
                " ORDER BY r.version DESC", con)
            active = self._active(con).version
        frame["status"] = frame.pop("last_step").map(_STATUS_OF_STEP).fillna("draft")
        frame.loc[(frame.version == 0) & frame.step_by.isna(), "status"] = "approved"  # in force until a first approval
        frame.loc[frame.version == 0, "created_at"] = None  # they come with the release
        frame["active"] = frame.version == active
        return frame

    def steps(self, version: int | None = None) -> pd.DataFrame:
        """The adoption steps, newest first (of one version, or of all)."""
        where, params = ("WHERE version = ?", [version]) if version is not None else ("", [])
        with self.state.connect() as con:
            return pd.read_sql_query(f"SELECT * FROM segment_rule_steps {where} ORDER BY step_id DESC",  # noqa: S608
                                     con, params=params)

    # --- writing ---------------------------------------------------------------

    def save(self, rules: RuleSet, *, author: str, role: str, comment: str) -> int:
        """Store `rules` as a new draft version (based on `rules.version`); returns its number."""
        _may(role, "rules:edit", "rulebook.may_not_edit")
        comment = _comment(comment)
        with self.state.transaction() as con:
            version = con.execute("SELECT coalesce(max(version), 0) + 1 FROM segment_rules").fetchone()[0]
            con.execute("INSERT INTO segment_rules (version, rules_json, comment, author, based_on, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)", [version, rules.to_json(), comment, author, rules.version, utc_now()])
            append_audit(con, author, "rules_saved", role, version=version, based_on=rules.version, comment=comment,
                         changes=_changes(rules, self._get(con, rules.version)))
        return version

    def propose(self, version: int, *, actor: str, role: str, comment: str) -> None:
        """Ask for `version` to become the active rule set."""
        _may(role, "rules:edit", "rulebook.may_not_edit")
        comment = _comment(comment)
        with self.state.transaction() as con:
            status = self._status(con, version)
            if status == "proposed":
                raise Refused("rulebook.already_proposed", version=version)
            if self._active(con).version == version:
                raise Refused("rulebook.already_active", version=version)
            self._step(con, version, "proposed", actor, role, comment, "rules_proposed")

    def decide(self, version: int, *, approve: bool, actor: str, role: str, comment: str) -> None:
        """An admin approves (making it active) or rejects a proposed version, with a comment."""
        _may(role, "rules:decide", "rulebook.may_not_decide")
        comment = _comment(comment)
        with self.state.transaction() as con:
            if self._status(con, version) != "proposed":
                raise Refused("rulebook.not_proposed", version=version)
            proposer = con.execute("SELECT actor FROM segment_rule_steps WHERE version = ? AND action = 'proposed'"
                                   " ORDER BY step_id DESC LIMIT 1", [version]).fetchone()[0]
            author = con.execute("SELECT author FROM segment_rules WHERE version = ?", [version]).fetchone()[0]
            if actor in (proposer, author):
                raise Refused("rulebook.second_person", version=version, user=actor)
            if approve:
                self._step(con, version, "approved", actor, role, comment, "rules_approved",
                           replaces=self._active(con).version)
            else:
                self._step(con, version, "rejected", actor, role, comment, "rules_rejected")

    # --- inside a transaction --------------------------------------------------

    def _active(self, con: sqlite3.Connection) -> RuleSet:
        row = con.execute("SELECT version FROM segment_rule_steps WHERE action IN ('approved', 'rolled_back')"
                          " ORDER BY step_id DESC LIMIT 1").fetchone()
        return self._get(con, row[0]) if row else DEFAULT_RULES

    @staticmethod
    def _get(con: sqlite3.Connection, version: int) -> RuleSet:
        if version == 0:
            return DEFAULT_RULES
        row = con.execute("SELECT rules_json FROM segment_rules WHERE version = ?", [version]).fetchone()
        if row is None:
            raise KeyError(f"rule set version {version} does not exist")
        return RuleSet.from_json(row[0], version)

    @staticmethod
    def _status(con: sqlite3.Connection, version: int) -> str:
        if not con.execute("SELECT 1 FROM segment_rules WHERE version = ?", [version]).fetchone():
            raise KeyError(f"rule set version {version} does not exist")
        row = con.execute("SELECT action FROM segment_rule_steps WHERE version = ? ORDER BY step_id DESC LIMIT 1",
                          [version]).fetchone()
        return _STATUS_OF_STEP[row[0]] if row else "approved" if version == 0 else "draft"

    @staticmethod
    def _step(con: sqlite3.Connection, version: int, action: str, actor: str, role: str, comment: str, event: str,
              **detail) -> None:
        con.execute("INSERT INTO segment_rule_steps (version, action, actor, comment, occurred_at) VALUES (?, ?, ?, ?, ?)",
                    [version, action, actor, comment, utc_now()])
        append_audit(con, actor, event, role, version=version, comment=comment, **detail)


def _may(role: str, action: str, refusal: str) -> None:
    if not permissions.may(role, action):
        raise Refused(refusal, role=role)


def _comment(text: str) -> str:
    if not (text or "").strip():
        raise Refused("rulebook.comment")
    return text.strip()


def _changes(rules: RuleSet, base: RuleSet) -> dict[str, list]:
    return {name: [old, new] for name, (new, old) in rules.changes(base).items()}
