"""Rule-set versions and maker-checker adoption, on a real state store."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ProcessPoolExecutor

import pytest

from analytics.rulebook import Refused, RuleBook
from analytics.rules import DEFAULT_RULES, RuleSet
from analytics.state import StateStore

WIDER = RuleSet(tier_cutoffs_cny=(80_000, 800_000, 8_000_000))
QUIETER = RuleSet(dormant_days=60)


@pytest.fixture
def book(tmp_path) -> RuleBook:
    return RuleBook(StateStore(tmp_path / "state.sqlite"))


def adopted(book: RuleBook, rules: RuleSet, maker="ana", checker="root") -> int:
    version = book.save(rules, author=maker, role="analyst", comment="tune")
    book.propose(version, actor=maker, role="analyst", comment="please")
    book.decide(version, approve=True, actor=checker, role="admin", comment="ok")
    return version


def test_every_save_is_a_new_version_with_author_time_and_comment(book):
    assert book.active() == DEFAULT_RULES
    first = book.save(WIDER, author="ana", role="analyst", comment="wider bands")
    second = book.save(QUIETER, author="bo", role="analyst", comment="dormant sooner")
    assert (first, second) == (1, 2)
    versions = book.versions().set_index("version")
    assert versions.loc[1, ["author", "comment", "status"]].tolist() == ["ana", "wider bands", "draft"]
    assert versions.loc[2, ["author", "comment", "status"]].tolist() == ["bo", "dormant sooner", "draft"]
    assert versions.loc[0, "active"] and not versions.loc[[1, 2], "active"].any()
    assert versions.loc[1, "created_at"] <= versions.loc[2, "created_at"]
    assert book.get(1) == RuleSet(**{**WIDER.__dict__, "version": 1})
    assert book.active() == DEFAULT_RULES  # saving changes nothing for anyone


def test_versions_and_steps_are_never_overwritten(book):
    adopted(book, WIDER)
    with book.state.connect() as con:
        for table in ("segment_rules", "segment_rule_steps"):
            for statement in (f"UPDATE {table} SET comment = 'x'", f"DELETE FROM {table}"):  # noqa: S608
                with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                    con.execute(statement)
    assert book.get(1).tier_cutoffs_cny == WIDER.tier_cutoffs_cny


def test_an_approved_proposal_becomes_the_active_rule_set(book):
    version = adopted(book, WIDER)
    assert book.active() == book.get(version) and book.active().version == version
    versions = book.versions().set_index("version")
    assert versions.loc[version, "status"] == "approved" and versions.loc[version, "active"]
    assert versions.loc[version, ["step_by", "step_comment"]].tolist() == ["root", "ok"]


def test_the_proposer_and_the_author_cannot_approve(book):
    mine = book.save(WIDER, author="root", role="admin", comment="admin edits")
    book.propose(mine, actor="root", role="admin", comment="adopt mine")
    with pytest.raises(Refused) as refused:
        book.decide(mine, approve=True, actor="root", role="admin", comment="self")
    assert refused.value.key == "rulebook.second_person"
    theirs = book.save(QUIETER, author="root", role="admin", comment="written by root")
    book.propose(theirs, actor="ana", role="analyst", comment="proposed by ana")
    with pytest.raises(Refused, match="second person"):
        book.decide(theirs, approve=True, actor="root", role="admin", comment="author approving")
    with pytest.raises(Refused) as refused:
        book.decide(theirs, approve=True, actor="bo", role="analyst", comment="not an admin")
    assert refused.value.key == "rulebook.may_not_decide"
    assert book.active() == DEFAULT_RULES
    book.decide(mine, approve=True, actor="admin2", role="admin", comment="second person")
    assert book.active().version == mine


def test_rejection_keeps_the_active_rule_set(book):
    active = adopted(book, WIDER)
    version = book.save(QUIETER, author="ana", role="analyst", comment="dormant sooner")
    book.propose(version, actor="ana", role="analyst", comment="please")
    book.decide(version, approve=False, actor="root", role="admin", comment="too aggressive")
    assert book.active().version == active
    row = book.versions().set_index("version").loc[version]
    assert (row.status, row.step_comment) == ("rejected", "too aggressive")
    with pytest.raises(Refused, match="not proposed"):
        book.decide(version, approve=True, actor="root", role="admin", comment="changed my mind")


def test_steps_that_the_rules_of_adoption_refuse(book):
    version = book.save(WIDER, author="ana", role="analyst", comment="wider")
    with pytest.raises(Refused, match="may not save"):
        book.save(WIDER, author="ceo", role="executive", comment="mine")
    with pytest.raises(Refused, match="comment"):
        book.propose(version, actor="ana", role="analyst", comment="  ")
    with pytest.raises(Refused, match="not proposed"):
        book.decide(version, approve=True, actor="root", role="admin", comment="ok")
    book.propose(version, actor="ana", role="analyst", comment="please")
    with pytest.raises(Refused, match="already proposed"):
        book.propose(version, actor="ana", role="analyst", comment="again")
    with pytest.raises(KeyError):
        book.propose(99, actor="ana", role="analyst", comment="no such version")


def test_rolling_back_is_proposed_and_approved_by_a_second_person_like_any_version(book):
    first = adopted(book, WIDER)
    second = adopted(book, QUIETER)
    assert book.active().version == second
    assert not hasattr(book, "roll_back")  # no way for one admin to re-activate a version alone
    book.propose(first, actor="root", role="admin", comment="back to the wider bands")
    assert book.active().version == second  # proposed, not yet active
    with pytest.raises(Refused, match="a second person must decide"):
        book.decide(first, approve=True, actor="root", role="admin", comment="my own proposal")
    with pytest.raises(Refused, match="may not approve"):
        book.decide(first, approve=True, actor="ana2", role="analyst", comment="analysts cannot")
    book.decide(first, approve=True, actor="boss", role="admin", comment="agreed")
    assert book.active() == book.get(first)
    with pytest.raises(Refused, match="already the active"):
        book.propose(first, actor="ana", role="analyst", comment="again")


def test_the_built_in_defaults_can_be_proposed_and_approved_again(book):
    """Version 0 is an earlier version like any other: after approvals, a roll-back to the defaults."""
    with pytest.raises(Refused, match="already the active"):
        book.propose(0, actor="ana", role="analyst", comment="the defaults")
    adopted(book, WIDER)
    versions = book.versions()
    assert versions.set_index("version").loc[0, ["status", "active"]].tolist() == ["approved", False]
    book.propose(0, actor="ana", role="analyst", comment="back to the defaults")
    assert book.versions().set_index("version").loc[0, "status"] == "proposed"
    book.decide(0, approve=True, actor="root", role="admin", comment="agreed")
    assert book.active() == DEFAULT_RULES
    assert book.versions().set_index("version").loc[0, ["status", "active"]].tolist() == ["approved", True]
    assert [e for e in book.state.audit_events().event if e.startswith("rules_")][:2] == [
        "rules_approved", "rules_proposed"]


def test_every_step_is_in_the_audit_log(book):
    first = adopted(book, WIDER)
    second = book.save(QUIETER, author="ana", role="analyst", comment="dormant sooner")
    book.propose(second, actor="ana", role="analyst", comment="please")
    book.decide(second, approve=False, actor="root", role="admin", comment="no")
    events = book.state.audit_events().iloc[::-1]
    assert list(zip(events.event, events.actor)) == [
        ("rules_saved", "ana"), ("rules_proposed", "ana"), ("rules_approved", "root"),
        ("rules_saved", "ana"), ("rules_proposed", "ana"), ("rules_rejected", "root")]
    saved = json.loads(events.detail_json.iloc[0])
    assert saved["version"] == first and saved["changes"] == {
        "tier_cutoffs_cny": [[50_000, 500_000, 6_000_000], [80_000, 800_000, 8_000_000]]}
    assert json.loads(events.detail_json.iloc[2]) == {"version": first, "comment": "ok", "replaces": 0}


def _save_many(args):
    path, writer = args
    book = RuleBook(StateStore(path))
    return [book.save(RuleSet(dormant_days=30 + writer), author=f"analyst{writer}", role="analyst",
                      comment=f"save {i}") for i in range(10)]


def test_analysts_saving_at_the_same_moment_all_get_their_versions_stored(tmp_path):
    path = tmp_path / "state.sqlite"
    RuleBook(StateStore(path)).versions()  # the schema exists before the race
    with ProcessPoolExecutor(max_workers=4) as pool:
        numbers = [n for saved in pool.map(_save_many, [(path, w) for w in range(4)]) for n in saved]
    assert sorted(numbers) == list(range(1, 41))
    versions = RuleBook(StateStore(path)).versions()
    versions = versions[versions.version > 0]
    assert versions.groupby("author").size().to_dict() == {f"analyst{w}": 10 for w in range(4)}
    book = RuleBook(StateStore(path))
    assert all(book.get(v).dormant_days == 30 + int(a[-1]) for v, a in zip(versions.version, versions.author))
