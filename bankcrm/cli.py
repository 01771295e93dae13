"""`bankcrm`: everything a user runs outside the browser."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from analytics import files, ingest, rulebook, store
from analytics import generate as gen
from analytics.ml import papers
from analytics.schema import IMPORTABLE
from auth.cli import users_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="bankcrm: the store, imports and tools behind the dashboard.")
# Paths, values from files and what users typed are printed as they are: no rich markup, no :emoji: codes.
console = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)
app.add_typer(users_app, name="users")
churn_app = typer.Typer(no_args_is_help=True, help="The churn model.")
app.add_typer(churn_app, name="churn")
care_app = typer.Typer(no_args_is_help=True, help="Care tasks for relationship managers.")
app.add_typer(care_app, name="care")
parquet_app = typer.Typer(no_args_is_help=True, help="The store as Parquet tables, for Spark.")
app.add_typer(parquet_app, name="parquet")
products_app = typer.Typer(no_args_is_help=True, help="Next-best product: who is likely to open which product.")
app.add_typer(products_app, name="products")
config_app = typer.Typer(no_args_is_help=True, help="Whether this deployment may serve.")
app.add_typer(config_app, name="config")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log in the state store.")
app.add_typer(audit_app, name="audit")

StoreOption = Annotated[
    Optional[Path],
    typer.Option("--store", help="The DuckDB store file (default: $BANKCRM_STORE or data/bankcrm.duckdb)."),
]


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=console, transient=False)


def _existing_store(store_path: Path | None) -> Path:
    path = store_path or store.default_path()
    if not path.exists():
        console.print(f"No store at {path}. Create one with `bankcrm generate` or `bankcrm import`.")
        raise typer.Exit(code=1)
    return path


def _facts(store_path: Path | None):
    """What a command reads, with the CLI's all-branches scope: the --store file, or else the facts
    $BANKCRM_BACKEND names (the DuckDB store by default, or Spark)."""
    from analytics.scope import Scope, ScopedStore
    from analytics.spark import SparkUnavailable

    try:
        source = store.Store(store_path) if store_path else store.facts()
        backend = source.snapshot()[1]
    except (store.StoreMissing, store.StoreOutdated, store.BadSetting, SparkUnavailable) as problem:
        console.print(str(problem))
        raise typer.Exit(code=1) from None
    return source, ScopedStore(backend, Scope.all_branches(user="cli", pii="shown"))


def build_demo_store(path: Path, spec: gen.DemoSpec, *, show_progress: bool = True) -> float:
    """Generate the demo store at `path` (replacing it), return the seconds it took."""
    started = time.perf_counter()
    steps = ["branches and relationship managers", "accounts", "monthly balances", "interactions",
             "campaigns and funnel", "surveys", "complaints", "marts"]
    with _progress() as progress:
        task = progress.add_task("generating", total=len(steps), visible=show_progress)

        def step(name: str) -> None:
            progress.update(task, description=name, completed=steps.index(name))

        gen.build_store(path, spec, step)
        progress.update(task, description="done", completed=len(steps))
    return time.perf_counter() - started


@app.command()
def generate(
    customers: Annotated[int, typer.Option(help="Number of customers.", min=100)] = 50_000,
    months: Annotated[int, typer.Option(help="Months of history.", min=3, max=120)] = 36,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same store.")] = 7,
    end_month: Annotated[Optional[str], typer.Option(help="Last month-end of the data, YYYY-MM-DD (default: last complete month).")] = None,
    store_path: StoreOption = None,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Do nothing when the store already exists.")] = False,
) -> None:
    """Build a demo store with believable data for a Chinese retail bank."""
    path = store_path or store.default_path()
    if if_missing and path.exists():
        console.print(f"Store {path} exists; keeping it.")
        return
    end = dt.date.fromisoformat(end_month) if end_month else None
    spec = gen.DemoSpec(customers=customers, months=months, seed=seed, end_month=end)
    seconds = build_demo_store(path, spec)
    console.print(f"Built {path}: {customers:,} customers x {months} months (seed {seed}) in {seconds:.1f} s.")


@app.command("import")
def import_(
    table: Annotated[str, typer.Argument(help=f"One of: {', '.join(IMPORTABLE)}.")],
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file.")],
    mapping: Annotated[Optional[Path], typer.Option(help="A YAML mapping file: renames, value maps, formats.")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="The file's encoding, e.g. gb18030 (default: UTF-8).")] = None,
    sep: Annotated[Optional[str], typer.Option(help="The delimiter (default: guessed from the header).")] = None,
    store_path: StoreOption = None,
) -> None:
    """Import a file into the store: every row checked, all or nothing."""
    try:
        loaded = ingest.Mapping.load(mapping) if mapping else None
        report = ingest.import_file(table, file, store_path=store_path, mapping=loaded, encoding=encoding,
                                    delimiter="\t" if sep in ("\\t", "tab") else sep)
    except ingest.ImportRejected as rejected:
        console.print(str(rejected), highlight=False)
        raise typer.Exit(code=1) from None
    console.print(str(report), highlight=False)


@app.command()
def migrate(
    store_path: StoreOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild the marts also when the schema is current "
                                                            "(after a new BANKCRM_PSEUDONYM_KEY).")] = False,
) -> None:
    """Upgrade the store's schema in place and rebuild its marts (atomically; nothing is lost); with
    BANKCRM_STORE_KEY set, a plain store is encrypted on the way."""
    path = _existing_store(store_path)
    before, after = store.upgrade(path, rebuild_marts=rebuild, rules=rulebook.in_force(path))
    console.print(f"Store {path}: schema version {before}" + (f" -> {after}." if after != before else ", up to date."))


@app.command()
def bench(
    customers: Annotated[int, typer.Option(help="Customers in the large store.", min=100)] = 1_000_000,
    months: Annotated[int, typer.Option(help="Months of history.", min=3, max=120)] = 36,
    repeat: Annotated[int, typer.Option(help="Runs per measurement; the median is reported.", min=1)] = 3,
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON here.")] = Path(
        "docs/benchmarks.json"),
    markdown: Annotated[Optional[Path], typer.Option(help="Write the Markdown report here.")] = Path("docs/benchmarks.md"),
    browser: Annotated[bool, typer.Option(help="Also time sign-in to the Overview in Chromium.")] = True,
    first_start: Annotated[bool, typer.Option(help="Also time make run in a fresh clone of HEAD, to its first page "
                                                   "and to its scores.")] = True,
    load_seconds: Annotated[float, typer.Option(help="Length of each load test run (0: none).", min=0, max=600)
                            ] = 60,
    largest: Annotated[Optional[int], typer.Option(help="Also time every page on a store this large.", min=100)
                       ] = None,
    largest_months: Annotated[Optional[int], typer.Option(help="Months of the largest store (default: --months).",
                                                          min=3, max=120)] = None,
) -> None:
    """Measure pages against pandas, what-if, the churn model, memory, import, sign-in and load at a given size;
    write docs/benchmarks.md and .json."""
    from bankcrm import bench as suite

    results = suite.run(customers, months, repeat,
                        progress=lambda step: console.print(Text.assemble(("bench", "bold"), f": {step}")),
                        browser=browser, load_seconds=load_seconds, largest=largest,
                        largest_months=largest_months, first_start=first_start)
    suite.write_reports(results, json_file, markdown)
    for r in results:
        console.print(f"{r.name:60} {r.size:>20} median {suite.shown(r.median_ms, r.unit):>9}  {r.verdict}")


ModelsOption = Annotated[
    Optional[Path],
    typer.Option("--models", help="Where model files are (default: $BANKCRM_MODELS or models/ beside the store)."),
]


def _trained(fit, tables, directory: Path, kind: str, min_auc: float):
    """Run a training function with a progress bar; a TrainingError ends the command with its message, and a
    refused model's paper is saved alone (what `score` and the model page read to say why there is no model)."""
    from analytics.ml import train as trainer

    with _progress() as progress:
        task = progress.add_task("training", total=1)

        def step(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        try:
            return fit(tables, step, min_auc=min_auc)
        except trainer.Refused as refused:
            trainer.save(None, refused.paper, directory, kind)
            console.print(f"{refused} No {kind} model is published; the previous one, if any, is not used.")
            raise typer.Exit(code=1) from None
        except trainer.TrainingError as problem:
            console.print(str(problem))
            raise typer.Exit(code=1) from None


def _scoring(store_path: Path | None, model: Path | None, models: Path | None, kind: str, table: str, command: str):
    """The facts, the saved model of `kind` (the given file or the newest) and its paper, or a message and exit."""
    from analytics import spark
    from analytics.ml import train as trainer

    source, tables = _facts(store_path)
    if isinstance(source, spark.Facts) and source.parquet is None:
        console.print(f"On Spark, scoring writes {table} into a Parquet export: give the backend "
                      "setting parquet=DIR, or score the DuckDB store and export it again.")
        raise typer.Exit(code=1)
    models = models or papers.models_dir(store_path)
    if model is None and (refused := papers.refusal(models, kind)):
        console.print(f"No {kind} model is published: training {refused['version']} refused its model: "
                      f"{refused['refused']}.")
        raise typer.Exit(code=1)
    model_path = model or papers.latest(models, kind)
    if model_path is None:
        console.print(f"No {kind} model in {models}: run `bankcrm {command}` first.")
        raise typer.Exit(code=1)
    return source, tables, *trainer.load(model_path)


def _write_scores(source, scores, table: str) -> int:
    """Into the DuckDB store (a private copy swapped in), or into the Parquet export a Spark backend reads."""
    from analytics import spark
    from analytics.ml import score as scorer

    if isinstance(source, spark.Facts):
        return spark.write_scores(source.parquet, scores, table)
    with store.rewrite(source.path) as con:
        return scorer.write(con, scores, table)


MinAucOption = Annotated[float, typer.Option(
    "--min-auc", min=0.5, max=1.0, help="A model whose held-out ROC-AUC is below this is not published.")]


@app.command()
def train(
    store_path: StoreOption = None,
    models: ModelsOption = None,
    min_auc: MinAucOption = papers.MIN_AUC,
) -> None:
    """Train the churn model on the store's history (validated on its latest months) and save it, unless it
    fails its checks (held-out ROC-AUC below --min-auc, a calibration that reverses its order)."""
    from analytics.ml import train as trainer

    _, tables = _facts(store_path)
    directory = models or papers.models_dir(store_path)
    model, paper = _trained(trainer.train, tables, directory, "churn", min_auc)
    saved = trainer.save(model, paper, directory)
    v = paper["validation"]
    console.print(f"Saved {saved} (trained {paper['training_window'][0]}..{paper['training_window'][1]}). "
                  f"Validated on {paper['validation_window'][0]}..{paper['validation_window'][1]}: "
                  f"ROC-AUC {v['roc_auc']}, PR-AUC {v['pr_auc']}, Brier {v['brier']}, "
                  f"top 10% catches {v['lift_top10']:.1f}x the base rate.")


@app.command()
def score(
    store_path: StoreOption = None,
    model: Annotated[Optional[Path], typer.Option(help="A saved model (default: the newest in the models directory).")] = None,
    models: ModelsOption = None,
) -> None:
    """Score every current customer with the churn model; write churn_scores with reasons (into the DuckDB
    store, or into the Parquet export a Spark backend reads)."""
    from analytics.ml import score as scorer
    from analytics.ml import train as trainer

    source, tables, pipeline_, paper = _scoring(store_path, model, models, "churn", "churn_scores", "train")
    month = trainer.month_ends(tables)[-1]
    with console.status(f"features, probabilities and reasons as of {month}"):
        written = _write_scores(source, scorer.score(tables, pipeline_, paper, month), "churn_scores")
    console.print(f"Scored {written:,} customers as of {month} with model {paper['version']}.")


@products_app.command("train")
def products_train(
    store_path: StoreOption = None,
    models: ModelsOption = None,
    min_auc: MinAucOption = papers.MIN_AUC,
) -> None:
    """Train one model per product on the store's history: who opens it within 3 months (validated on the
    latest months, like the churn model, with the same checks per product); save them."""
    from analytics.ml import products as nbp
    from analytics.ml import train as trainer

    _, tables = _facts(store_path)
    directory = models or papers.models_dir(store_path)
    fitted, paper = _trained(nbp.train_all, tables, directory, nbp.KIND, min_auc)
    saved = trainer.save(fitted, paper, directory, nbp.KIND)
    console.print(f"Saved {saved}. Validated on {paper['validation_window'][0]}..{paper['validation_window'][1]}:")
    for product, report in paper["products"].items():
        v = report.get("validation")
        console.print(f"  {product:14} " + (f"not published: {report['refused']}" if "refused" in report else
                                            f"ROC-AUC {v['roc_auc']}, top 10% opens {v['lift_top10']:.1f}x the base rate "
                                            f"({v['base_rate']:.2%})" if v else f"not modelled: {report['skipped']}"))


@products_app.command("score")
def products_score(
    store_path: StoreOption = None,
    model: Annotated[Optional[Path], typer.Option(help="Saved product models (default: the newest).")] = None,
    models: ModelsOption = None,
) -> None:
    """For every current customer and every product they do not hold, the chance they open it within 3 months;
    writes product_scores, with reasons for each customer's top two."""
    from analytics.ml import products as nbp
    from analytics.ml import train as trainer

    source, tables, fitted, paper = _scoring(store_path, model, models, nbp.KIND, "product_scores", "products train")
    month = trainer.month_ends(tables)[-1]
    with console.status(f"probabilities and reasons as of {month}"):
        scores = nbp.score_all(tables, fitted, paper, month)
        written = _write_scores(source, scores, "product_scores")
    console.print(f"Scored {scores.customer_id.nunique():,} customers ({written:,} products not held) as of {month} "
                  f"with models {paper['version']}.")


@churn_app.command("evaluate")
def churn_evaluate(
    file: Annotated[Path, typer.Argument(help="A CSV with one row per customer.")],
    target: Annotated[str, typer.Option(help="The column that says whether the customer left.")],
    positive: Annotated[str, typer.Option(help="The value of the target that means 'left'.")],
    id_column: Annotated[Optional[str], typer.Option("--id", help="The customer id column (not a feature).")] = None,
    drop: Annotated[Optional[list[str]], typer.Option(help="A column to leave out; repeat for more.")] = None,
    sep: Annotated[Optional[str], typer.Option(help="The separator (default: guessed).")] = None,
    thousands: Annotated[Optional[str], typer.Option(
        help="The thousands separator of the numbers, , or . (default: read from each column; a column that "
             "reads both ways, like 1.234, is read with a decimal point).")] = None,
    time_column: Annotated[Optional[str], typer.Option(
        "--time", help="The date column of the time-ordered validation (default: the newest date column).")] = None,
) -> None:
    """Cross-validate the churn pipeline on any customer table; print one JSON object. Exits with 2, and says
    why on standard error, when the figures cannot be trusted (ROC-AUC below chance, a reversed calibration)."""
    from analytics.ml import evaluate

    try:
        result = evaluate.evaluate_file(file, target, positive, id_column, tuple(drop or ()), sep, thousands,
                                        time_column)
    except (evaluate.EvaluationError, OSError) as problem:
        console.print(f"{file}: {problem}")
        raise typer.Exit(code=1) from None
    print(json.dumps(result))
    for warning in result["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
    if result["warnings"]:
        raise typer.Exit(code=2)


@care_app.command("generate")
def care_generate(
    store_path: StoreOption = None,
    on: Annotated[Optional[str], typer.Option(help="The day the rules look from, YYYY-MM-DD (default: the store's "
                                                   "latest month-end, the day its data runs to).")] = None,
) -> None:
    """Create the care tasks the rules call for (birthdays, maturing term deposits, churn risk over the
    warning threshold, complaints past their SLA), each once, and close as expired the rules' birthday and
    maturity tasks whose day has passed (a miss); run it after every import or scoring."""
    from analytics import care, state
    from analytics.filters import Slice
    from analytics.rulebook import RuleBook

    try:
        day = dt.date.fromisoformat(on) if on else None
    except ValueError:
        console.print(f"--on {on!r} is not a date (YYYY-MM-DD).")
        raise typer.Exit(code=2) from None
    _, tables = _facts(store_path)
    states = state.StateStore(state.default_path(store_path))
    sl = Slice(tables, rules=RuleBook(states).active())
    day = day or sl.as_of_date()
    run = care.generate(states, care.due(sl, day), on=day, actor="cli")
    expired = sum(run.expired.values())
    console.print(f"Care tasks as of {day}: " + ", ".join(f"{n:,} {kind}" for kind, n in run.created.items())
                  + f" created; {expired:,} closed as expired"
                  + (" (" + ", ".join(f"{n:,} {kind}" for kind, n in run.expired.items() if n) + ")" if expired else "")
                  + ".")


@app.command()
def refresh(
    store_path: StoreOption = None,
    later: Annotated[bool, typer.Option(
        "--later", help="Only have the store wait for the steps: queue them and return (make does, after building "
                        "the demo store).")] = False,
    queued: Annotated[bool, typer.Option(
        "--queued", help="Only the steps the store waits for: none when nothing is queued, so a store whose "
                         "models were made is not trained again.")] = False,
    while_pid: Annotated[Optional[int], typer.Option(
        "--while", metavar="PID",
        help="Return at once and work in a process of its own (its output in the store's .refresh.log) until done "
             "or until process PID ends (make run passes its own); a step stopped half-way leaves the store as it "
             "was and waits for the next run.")] = None,
) -> None:
    """Train and score the churn and next-best-product models and run the care-task rules, in turn (train, score,
    products train, products score, care generate); a model that fails its checks is not published and the next
    step runs all the same. While a refresh works on a queued store, its pages say the scores are on their way."""
    from analytics.ml import refresh as steps

    path = _existing_store(store_path)
    if later:
        steps.queue(path)
        console.print(f"Store {path} waits for: {', '.join(steps.STEPS)}.")
        return
    with steps.working(path) as worker:
        if worker is None:
            console.print(f"Another process is already refreshing {path}'s models.")
            return
        todo = worker.waiting() if queued else steps.STEPS
        if not todo:
            console.print(f"Store {path} waits for no model step.")
            return
        if while_pid is not None:
            log = path.with_name(path.name + ".refresh.log")
            sys.stdout.flush(), sys.stderr.flush()
            if os.fork():
                console.print(f"Training and scoring in the background ({', '.join(todo)}), output in {log}; "
                              "the pages say the scores are on their way until they land.")
                return
            _detach(log)
        for step in todo:
            console.print(f"bankcrm {step}")
            _run_step(step, path, while_pid)
            worker.done(step)
        console.print(f"Store {path} is refreshed.")


def _detach(log: Path) -> None:
    """The forked worker of `refresh --while`: no terminal (the app's output stays readable there), its output
    appended to `log`."""
    with open(os.devnull) as nothing:
        os.dup2(nothing.fileno(), 0)
    with open(files.private_file(log), "a") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)


def _run_step(step: str, path: Path, while_pid: int | None) -> None:
    """`bankcrm STEP --store PATH` in a process of its own, whatever its exit code; stopped (and this
    process with it) on Ctrl-C, a signal, or once process `while_pid` has ended: the step's command then leaves
    the store as it was (it ends like this one: see `main`)."""
    command = subprocess.Popen([str(Path(sys.executable).with_name("bankcrm")), *step.split(), "--store", str(path)])
    try:
        while True:
            try:
                command.wait(timeout=1)
                return
            except subprocess.TimeoutExpired:
                if while_pid is not None and not _alive(while_pid):
                    raise SystemExit(f"Process {while_pid} ended: stopped during `bankcrm {step}`.") from None
    except BaseException:
        command.terminate()
        command.wait()
        console.print(f"Stopped during `bankcrm {step}`: the store is as it was.")
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@parquet_app.command("export")
def parquet_export(
    store_path: StoreOption = None,
    out: Annotated[Optional[Path], typer.Option(help="The folder to write (default: parquet/ beside the store); "
                                                     "an earlier export there is replaced once this one is complete.")
                   ] = None,
) -> None:
    """Write every table of the store as Parquet, a folder per table, for Spark
    (BANKCRM_BACKEND=pyspark://DATABASE?parquet=DIR) or any engine that reads Parquet tables."""
    from analytics import spark

    path = _existing_store(store_path)
    out = out or path.parent / "parquet"
    rows = spark.export(path, out)
    console.print(f"Wrote {len(rows)} tables ({sum(rows.values()):,} rows) to {out}.")


@config_app.command("check")
def config_check(
    users_file: Annotated[Optional[Path], typer.Option("--users", help="The users file (default: $BANKCRM_USERS or "
                                                                          "the demo file).")] = None,
) -> None:
    """Print every reason the app refuses this configuration (BANKCRM_ENV, the secrets, the users file) and exit 1
    while there is one. Demo mode (BANKCRM_ENV unset or demo) passes with public demo secrets."""
    from analytics import config
    from auth import config as deployment
    from auth.users import UsersFile

    found = deployment.problems(UsersFile(users_file))
    if config.is_demo():
        console.print("Demo mode (BANKCRM_ENV unset or demo): public demo secrets, for demo data on this machine only.")
    else:
        console.print(f"Production (BANKCRM_ENV={os.environ.get(config.ENV)!r}): "
                      + (f"{len(found)} problem{'s' if len(found) != 1 else ''}." if found else "no problems."))
    for problem in found:
        console.print(f"- {problem}")
    raise typer.Exit(code=1 if found else 0)


@audit_app.command("verify", short_help="Check that no audit event was changed, removed or inserted.")
def audit_verify(
    state_path: Annotated[Optional[Path], typer.Option("--state", help="The state store (default: $BANKCRM_STATE "
                                                                       "or beside the store).")] = None,
) -> None:
    """Walk the audit log's chain with $BANKCRM_AUDIT_KEY, reading the file only. Intact: print the number of
    events and the head (the last event and its hash: note it somewhere else) and exit 0. Otherwise exit 1 and
    name the first broken event and what is wrong: changed (or written without the key), removed (a gap in
    the event numbers or a broken link) or inserted. Limits: a chain cannot see its own end. Deleted last
    events are noticed through SQLite's record of the largest event number handed out (sqlite_sequence),
    unless whoever deleted them rewrote that record too, and a log emptied along with it reads as new: compare
    the head with one noted earlier. Whoever holds the key can rewrite the whole chain."""
    from analytics import state

    try:
        check = state.StateStore(state_path or state.default_path()).verify_audit()
    except state.AuditUnreadable as problem:
        console.print(str(problem), markup=False)
        raise typer.Exit(code=1) from None
    print(check)
    if not check.intact:
        raise typer.Exit(code=1)


@app.command()
def serve(
    processes: Annotated[int, typer.Option(help="Streamlit processes; more than one run behind Debian's nginx.",
                                           min=1, max=16)] = 1,
    port: Annotated[int, typer.Option(help="The port people open.")] = 8501,
    address: Annotated[str, typer.Option(help="The address to listen on (demo mode: a loopback one only).")
                       ] = "127.0.0.1",
    store_path: StoreOption = None,
) -> None:
    """Serve the app until Ctrl-C: one Streamlit process, or (`make run PROCESSES=N`) N of them behind Debian's
    nginx, configured from deploy/nginx.conf (sticky sessions, websocket upgrade) with one cookie secret and
    one state store for all. Stops when any process of the tier stops."""
    import signal
    import sys

    from auth import config as deployment
    from auth.users import UsersFile
    from bankcrm import serve as web

    # The processes behind nginx listen on 127.0.0.1 whatever nginx does: the demo-mode address check is here.
    if found := deployment.problems(UsersFile(), address):
        for problem in found:
            console.print(f"Refused: {problem}")
        raise typer.Exit(code=1)
    env = {**os.environ, **({"BANKCRM_STORE": str(store_path)} if store_path else {})}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a service manager's stop stops every process too
    with web.tier(env, processes, address=address, port=port) as tier:
        console.print(f"bankcrm: {processes} process{'es' if processes > 1 else ''} "
                      + (f"behind nginx ({', '.join(tier.servers)}) " if tier.servers else "") + f"at {tier.url}")
        while not tier.stopped():
            time.sleep(1)
    console.print("bankcrm: a process of the tier stopped; the others were stopped with it.")
    raise typer.Exit(code=1)


@app.command()
def info(store_path: StoreOption = None) -> None:
    """Print the store's schema version and table sizes as JSON."""
    path = _existing_store(store_path)
    con = store.connect(path, read_only=True)
    print(json.dumps({"store": str(path), "schema_version": store.schema_version(con),
                      "rows": store.table_sizes(con)}, indent=2))


def _stopped(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    files.private_by_default()
    # Ended by a signal (a closed terminal, `kill`, `make run` stopped), a command ends like on Ctrl-C: a writer
    # deletes its private copy and leaves the store as it was (analytics.store.rewrite).
    for ending in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(ending) == signal.SIG_DFL:  # not one the caller chose to ignore (nohup)
            signal.signal(ending, _stopped)
    app()
