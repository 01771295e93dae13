"""The scope gate: branches narrowed and PII masked before analytics sees a table."""

from __future__ import annotations

import datetime as dt

import pytest
from ibis import _

from analytics.permissions import Forbidden
from analytics.scope import (
    BRANCH_SCOPED,
    CUSTOMER_SCOPED,
    MIN_PEERS,
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


def aum_per_branch(store: ScopedStore):
    now = store.table("customer_month")
    now = now.filter((now.month == dt.date(2024, 6, 30)) & ~now.is_churned)
    return now.group_by("branch_code").agg(customers=_.count(), aum_cny=_.aum_cny.sum())


def aum_per_customer(parts):
    return parts.mutate(aum_per_customer=parts.aum_cny / parts.customers)


def test_the_aggregate_path_gives_a_branch_head_the_bank_s_figures_and_their_rank_only(backend):
    """In June 2024 SH01 holds 6,000 (customer 1) and BJ01 50 (customer 3; customer 2 churned in March)."""
    head = ScopedStore(backend, Scope.for_branches(["BJ01"]))
    standing = head.standing(aum_per_branch, aum_per_customer, "aum_cny")
    assert standing.ranks == {"BJ01": 2} and standing.branches == 2
    everyone = ScopedStore(backend, Scope.all_branches()).standing(aum_per_branch, aum_per_customer, "aum_cny")
    assert everyone.ranks == {"SH01": 1, "BJ01": 2}
    assert everyone.bank == {"customers": 2, "aum_cny": 6050, "aum_per_customer": 3025}
    assert set(head.table("customers").branch_code.execute()) == {"BJ01"}  # the store itself stays narrowed


def test_the_bank_s_figures_never_give_away_the_few_other_branches_in_them(backend):
    """The bank less BJ01 is SH01 alone in the hand-built store: its head gets BJ01's rank but no bank figures, while
    a scope of both branches (the bank itself) does."""
    assert MIN_PEERS > 1
    assert ScopedStore(backend, Scope.for_branches(["BJ01"])).standing(aum_per_branch, aum_per_customer,
                                                                       "aum_cny").bank == {}
    both = ScopedStore(backend, Scope.for_branches(["BJ01", "SH01"])).standing(aum_per_branch, aum_per_customer,
                                                                              "aum_cny")
    assert both.bank["aum_cny"] == 6050


def test_the_aggregate_path_refuses_a_role_without_the_right_and_anything_but_numbers(backend):
    with pytest.raises(Forbidden):
        ScopedStore(backend, Scope.for_branches(["BJ01"], role="rm")).standing(aum_per_branch, aum_per_customer,
                                                                               "aum_cny")
    head = ScopedStore(backend, Scope.for_branches(["BJ01"]))
    with pytest.raises(ValueError, match="name"):  # a branch's name would leave with the bank's figures
        head.standing(lambda store: aum_per_branch(store).join(store.table("branches").select("branch_code", "name"),
                                                               "branch_code"), aum_per_customer, "aum_cny")
    nowhere = ScopedStore(backend, Scope.for_branches(["XX99"]))  # a branch with no customers: no rank
    assert nowhere.standing(aum_per_branch, aum_per_customer, "aum_cny").ranks == {}
