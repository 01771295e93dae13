"""Shared fixtures: small real stores built the way users build them."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from analytics import generate

from . import engines

# The app warms every new store in the background (ui.cache.warm): not under tests, which share two cores and
# would each pay for it; tests/test_warm.py runs it.
os.environ.setdefault("BANKCRM_WARM", "0")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
DEMO_END = dt.date(2026, 6, 30)
DEMO_SPEC = generate.DemoSpec(customers=4000, months=24, seed=11, end_month=DEMO_END)
# A store every model trains on in a third of the demo store's time: for tests of commands and servers, which
# assert nothing about its size
SMALL_SPEC = generate.DemoSpec(customers=2000, months=15, seed=5, end_month=DEMO_END)


def build_demo(path: Path, spec: generate.DemoSpec = DEMO_SPEC) -> Path:
    generate.build_store(path, spec)
    return path


@dataclass(frozen=True)
class Learnt:
    """What scoring a store learnt from it: the churn model and the product models (None when the store holds
    too few openings), each with its paper."""

    churn: tuple
    products: tuple | None


def build_scored_demo(path: Path, spec: generate.DemoSpec = DEMO_SPEC) -> Path:
    """A demo store with churn_scores and product_scores, as `make run` builds it: generate, train (the models
    saved in models/ beside the store, where the app finds them), score."""
    build_demo(path, spec)
    train_and_score(path)
    return path


def train_and_score(path: Path) -> Learnt:
    """Train the churn and product models on the store at `path`, save them beside it and write its scores."""
    import ibis

    from analytics import store
    from analytics.ml import papers, products, score, train
    from analytics.scope import Scope, ScopedStore

    tables = ScopedStore(ibis.duckdb.connect(str(path), read_only=True), Scope.all_branches(pii="shown"))
    month = train.month_ends(tables)[-1]
    model, paper = train.train(tables)
    train.save(model, paper, papers.models_dir(path))
    scores = score.score(tables, model, paper, month)
    try:
        models, product_paper = products.train_all(tables)
        train.save(models, product_paper, papers.models_dir(path), products.KIND)
        offers = products.score_all(tables, models, product_paper, month)
    except train.TrainingError:  # a small store may hold too few openings to learn from: no product scores
        models, product_paper, offers = None, None, None
    tables = None
    with store.rewrite(path) as con:
        score.write(con, scores)
        if offers is not None:
            score.write(con, offers, "product_scores")
    return Learnt((model, paper), None if models is None else (models, product_paper))


@pytest.fixture(scope="session", params=engines.ENGINES)
def engine(request) -> str:
    """The engine an analytics test runs on: every test that reads a store through `connect` or `backend`
    runs once on DuckDB and once on a local Spark session."""
    return request.param


@pytest.fixture(scope="session")
def connect(engine, tmp_path_factory):
    """`connect(path)`: the store file at `path`, read-only, as an Ibis backend on the engine under test."""
    if engine == "duckdb":
        return engines.duckdb_connect
    return engines.SparkCopies(tmp_path_factory.mktemp("parquet"))


@pytest.fixture(scope="session")
def hand_store(tmp_path_factory) -> Path:
    from . import handbuilt

    return handbuilt.build(tmp_path_factory.mktemp("hand") / "hand.duckdb")


@pytest.fixture(scope="session")
def backend(connect, hand_store):
    """The hand-built store of tests/handbuilt.py, read-only: figures worked out by hand are checked on it."""
    return connect(hand_store)


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> tuple[Path, Learnt]:
    """The demo store, and the models it was scored with."""
    path = build_demo(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    return path, train_and_score(path)


@pytest.fixture(scope="session")
def demo_store(demo_build) -> Path:
    """A generated store of 4,000 customers x 24 months, trained and scored; do not write to it."""
    return demo_build[0]


@pytest.fixture(scope="session")
def demo_learnt(demo_build) -> Learnt:
    """The models the demo store was scored with, learnt from it once per run (training costs about a minute):
    what `train.train` and `products.train_all` give on the demo store, the same every time (their seeds)."""
    return demo_build[1]


@pytest.fixture(scope="session")
def churn_trained(engine, connect, demo_store, demo_learnt) -> tuple:
    """(model, paper) of the churn model learnt from the demo store read by the engine under test: on DuckDB the
    one the store was scored with, on Spark learnt once more from what Spark reads."""
    if engine == "duckdb":
        return demo_learnt.churn
    from analytics.ml import train
    from analytics.scope import Scope, ScopedStore

    return train.train(ScopedStore(connect(demo_store), Scope.all_branches(pii="shown")))


@pytest.fixture(scope="session")
def demo_con(demo_store) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(demo_store), read_only=True)
    yield con
    con.close()


@pytest.fixture
def churn_modelling_csv() -> Path:
    path = SHARED_DATA / "Churn_Modelling.csv"
    if not path.exists():
        pytest.skip(f"reference data not found at {path} (shared/data is mounted beside the project)")
    return path


@pytest.fixture
def app_env(demo_store, tmp_path, monkeypatch):
    """The app's environment for AppTest: the demo store, a fresh state store, the demo users."""
    from analytics.state import StateStore

    monkeypatch.setenv("BANKCRM_STORE", str(demo_store))
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    monkeypatch.delenv("BANKCRM_USERS", raising=False)
    monkeypatch.delenv("BANKCRM_ENV", raising=False)
    return StateStore(tmp_path / "state.sqlite")
