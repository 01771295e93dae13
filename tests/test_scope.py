"""The scope gate: branches narrowed and PII masked before analytics sees a table."""

from __future__ import annotations

import pytest

from analytics.scope import (
    BRANCH_SCOPED,
    CUSTOMER_SCOPED,
    PSEUDONYM,
    OutOfScope,
    Scope,
    ScopedStore,
)


def test_branch_head_sees_only_own_branch_in_every_table(backend):
    tables = ScopedStore(backend, Scope.for_branches(["BJ01"]))
    for name in BRANCH_SCOPED:
        assert set(tables.table(name).branch_code.execute()) <= {"BJ01"}, name
    for name in CUSTOMER_SCOPED:
        assert set(tables.table(name).customer_id.execute()) <= {2, 3}, name
    assert set(tables.table("surveys").customer_id.execute()) == {2, 3}


def test_all_branches_scope_sees_everyone(backend):
    assert ScopedStore(backend, Scope.all_branches()).table("customers").count().execute() == 3


def test_pii_is_masked_without_the_right(backend):
    masked = ScopedStore(backend, Scope.all_branches(pii="masked")).table("customers")
    row = masked.filter(masked.customer_id == 1).execute().iloc[0]
    assert (row["name"], row["phone"], row["id_number"]) == ("张**", "*******5678", "310115********1234")
    shown = ScopedStore(backend, Scope.for_branches(["SH01"], pii="shown")).table("customers")
    assert shown.execute().iloc[0]["name"] == "张伟"


def test_unknown_tables_are_refused(backend):
    tables = ScopedStore(backend, Scope.all_branches())
    for name in ("audit_log", "no_such_table"):
        with pytest.raises(OutOfScope):
            tables.table(name)


def test_analysts_see_stable_pseudonyms_not_names(backend):
    scope = Scope.all_branches(role="analyst", pii="pseudonym")
    first = ScopedStore(backend, scope).table("customers").order_by("customer_id").execute()
    again = ScopedStore(backend, scope).table("customers").order_by("customer_id").execute()
    assert list(first["name"]) == list(again["name"])
    assert len(set(first["name"])) == 3
    assert first["name"].str.fullmatch(PSEUDONYM).all()
    assert not set(first["name"]) & {"张伟", "李娜", "王芳"}
    assert first.iloc[0]["phone"] == "*******5678"


def test_pseudonyms_depend_on_the_deployment_key(backend, monkeypatch):
    scope = Scope.all_branches(role="analyst", pii="pseudonym")
    before = ScopedStore(backend, scope).table("customers").name.execute().tolist()
    monkeypatch.setenv("BANKCRM_PSEUDONYM_KEY", "another-bank")
    assert ScopedStore(backend, scope).table("customers").name.execute().tolist() != before
