"""The load test, the worst case kept short: 20 sessions on real websockets click through their pages with no pause
against two Streamlit processes behind nginx while `bankcrm import` swaps the store underneath them, until each page
was opened, the store was swapped both ways under them and both stores were read, however long that takes on a busy
machine. It holds what happened, never how much happened in a given time (the benchmark measures that)."""

from __future__ import annotations

import os

import pytest

from auth.roles import PAGES
from bankcrm import loadtest, serve

SESSIONS, SECONDS = 20, 1  # the run goes on past SECONDS until what the assertions need has happened
PROCESSES = 2  # each learns of a new store at its next run
IMPORT_EVERY_S = 1  # each import swaps the store, so every session recomputes its figures afterwards
IMPORTS = 2  # at least, under the sessions: the store raised and back
PEOPLE = loadtest.PEOPLE  # four sessions each; heads see their branch
RAISE_CNY = 10_000  # added to every deposit of the latest month by the second file


@pytest.fixture(scope="module")
def swapping_store(tmp_path_factory, scored_copy):
    """A store, and two imports of its latest month: with every deposit raised, and as stored."""
    if not os.path.exists(serve.NGINX):
        pytest.skip("Debian's nginx is not installed (make test installs it with scripts/ensure-nginx)")
    workdir = tmp_path_factory.mktemp("load")
    path = scored_copy(workdir)
    return workdir, path, loadtest.latest_month_files(path, workdir, RAISE_CNY)


def overview_figures(url: str, usernames: set[str]) -> dict[str, dict[str, str]]:
    """Each person's Overview figures, read by a session of their own."""
    figures = {}
    for username in sorted(usernames):
        session = loadtest.Session(url, username)
        try:
            shown = session.open("overview")
        finally:
            session.close()
        assert not shown.errors, shown.errors
        figures[username] = shown.metrics
    return figures


def overviews_of(runs) -> list[tuple[str, dict[str, str]]]:
    return [(r.username, r.metrics) for r in runs if r.page == "overview"]


def test_twenty_sessions_on_two_processes_click_through_while_imports_swap_the_store(swapping_store,
                                                                                      record_property):
    workdir, path, files = swapping_store
    state = workdir / "state.sqlite"
    users = loadtest.people(SESSIONS)
    with serve.running(path, state, workdir / "streamlit.log", processes=PROCESSES) as app:
        # Everyone's Overview on each of the two stores the imports alternate between.
        before = overview_figures(app.url, set(PEOPLE))
        imported = [loadtest.bankcrm_import(path, *files[0], state)]
        raised = overview_figures(app.url, set(PEOPLE))
        imported.append(loadtest.bankcrm_import(path, *files[1], state))
        assert overview_figures(app.url, {"exec"}) == {"exec": before["exec"]}
        assert all(raised[name]["AUM"] != before[name]["AUM"] for name in PEOPLE)

        every_page = loadtest.every_page_opened(users)

        def what_the_assertions_need(runs) -> bool:  # however slow the machine
            stores = {shown == raised[name] for name, shown in overviews_of(runs)}
            return every_page(runs) and len(imported) - 2 >= IMPORTS and stores == {True, False}

        report = loadtest.run(app.url, users, SECONDS,
                              background=loadtest.importing(path, files, state, imported, IMPORT_EVERY_S),
                              until=what_the_assertions_need)
        rss = app.rss_mib()

    p95 = report.percentile_ms(0.95)
    record_property("load_p95_ms", round(p95))
    print(f"\n{len(report.runs)} page runs by {SESSIONS} sessions on {PROCESSES} processes in "
          f"{report.seconds:.0f} s, {len(imported) - 2} imports; page time median {report.median_ms:.0f} ms, "
          f"p95 {p95:.0f} ms; server RSS {rss:.0f} MiB")
    assert report.errors == []
    failed = [r.stdout + r.stderr for r in imported if r.returncode]
    assert failed == []
    assert len(imported) - 2 >= IMPORTS  # the store was swapped under the sessions, both ways
    assert {r.page for r in report.runs} == {spec.key for spec in PAGES}  # the five roles open every page
    overviews = overviews_of(report.runs)
    # Every Overview was drawn from one whole store: all nine figures of the one before an import or after it.
    assert overviews and all(shown in (before[name], raised[name]) for name, shown in overviews)
    assert {shown == raised[name] for name, shown in overviews} == {True, False}  # both stores were read
