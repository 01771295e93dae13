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
    assert (row["name"], row["phone"], row["id_number"]) == ("张**", "*******5678", "**************1234")
    shown = ScopedStore(backend, Scope.for_branches(["SH01"], pii="shown")).table("customers")
    assert shown.execute().iloc[0]["name"] == "张伟"


@pytest.mark.parametrize("pii", ["masked", "pseudonym"])
def test_nothing_shown_gives_back_the_hidden_digits_of_an_id_number(backend, pii):
    """The 8 digits an ID number's mask hides are the birth date: the birth date is not shown, the age only as
    its 10-year band, and the ID number keeps neither its region nor its birth date."""
    tables = ScopedStore(backend, Scope.all_branches(role="analyst" if pii == "pseudonym" else "executive", pii=pii))
    customers = tables.table("customers").execute()
    assert customers.birth_date.isna().all()
    assert customers.id_number.str.fullmatch(r"\*{14}[0-9X]{4}").all()
    ages = tables.table("customer_current").select("age_years").execute().age_years
    assert sorted(ages) == [30, 40, 40]  # 44, 34 and 48 at the end of July 2024
    shown = ScopedStore(backend, Scope.all_branches(pii="shown")).table("customer_current").execute()
    assert sorted(shown.age_years) == [34, 44, 48]


def test_free_text_notes_are_not_shown_to_roles_without_pii(backend):
    for pii in ("masked", "pseudonym"):
        notes = ScopedStore(backend, Scope.all_branches(pii=pii)).table("interactions").note.execute()
        assert notes.isna().all(), pii


def test_unknown_tables_are_refused(backend):
    tables = ScopedStore(backend, Scope.all_branches())
    for name in ("audit_log", "no_such_table"):
        with pytest.raises(OutOfScope):
            tables.table(name)


def test_analysts_see_stable_pseudonyms_not_names(backend):
    scope = Scope.all_branches(role="analyst", pii="pseudonym")
    first = ScopedStore(backend, scope).table("customers").order_by("name").execute()
    again = ScopedStore(backend, scope).table("customers").order_by("name").execute()
    assert list(first["name"]) == list(again["name"])
    assert len(set(first["name"])) == 3
    assert first["name"].str.fullmatch(PSEUDONYM).all()
    assert not set(first["name"]) & {"张伟", "李娜", "王芳"}
    assert set(first.phone) == {"*******5678", "*******1111", "*******2222"}


def test_analysts_never_see_a_real_customer_id_and_the_pseudonym_joins_every_table(backend):
    """In every table an analyst reads, the customer id is the customer's pseudonym (the same as their name
    there), so figures that join tables still add up and links work by pseudonym."""
    tables = ScopedStore(backend, Scope.all_branches(role="analyst", pii="pseudonym"))
    customers = tables.table("customers").execute()
    assert list(customers.customer_id) == list(customers["name"])
    pseudonyms = set(customers.customer_id)
    for name in (*BRANCH_SCOPED, *CUSTOMER_SCOPED):
        t = tables.table(name)
        if "customer_id" in t.columns:
            ids = set(t.customer_id.execute())
            assert ids <= pseudonyms and not ids & {1, 2, 3}, name
    surveys = tables.table("surveys").join(tables.table("customers"), "customer_id").execute()
    assert len(surveys) == ScopedStore(backend, Scope.all_branches(pii="shown")).table("surveys").count().execute()


def test_pseudonyms_depend_on_the_deployment_key(tmp_path, connect, monkeypatch):
    from . import handbuilt

    scope = Scope.all_branches(role="analyst", pii="pseudonym")
    first = ScopedStore(connect(handbuilt.build(tmp_path / "a.duckdb")), scope).table("customers").name.execute()
    monkeypatch.setenv("BANKCRM_PSEUDONYM_KEY", "another-bank")
    other = ScopedStore(connect(handbuilt.build(tmp_path / "b.duckdb")), scope).table("customers").name.execute()
    assert set(first) & set(other) == set()
