"""Scores on their way: the steps that train and score the models and run the care rules on a store, the ones a
new store still waits for, and whether a process is working on them.

`make run` starts the app as soon as a new store is built; the models are trained and scored meanwhile, in a
process of its own (`bankcrm refresh`). The steps the store still waits for are a small file beside it (its
queue), and the process working on them holds a lock beside it for as long as it runs: the pages say that the
scores are on their way only while one does (`underway`), and a step stopped half-way is done again by the
next run, the store as it was (every writer swaps in a new file: analytics.store.rewrite).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from analytics import files

# In order, as `bankcrm` commands: the care rules read the churn scores. A step that fails (a model that fails
# its checks is not published) is done all the same, as `make` went on past it before.
STEPS = ("train", "score", "products train", "products score", "care generate")
# What each kind of figure waits for.
BRINGS = {"churn": ("train", "score"), "products": ("products train", "products score"),
          "care": ("care generate",)}


def queue_path(store_path: Path) -> Path:
    """data/bankcrm.duckdb -> data/bankcrm.duckdb.queue: the steps the store still waits for, one a line."""
    return Path(store_path).with_name(Path(store_path).name + ".queue")


def _lock_path(store_path: Path) -> Path:
    return Path(store_path).with_name(Path(store_path).name + ".queue.lock")


def queue(store_path: Path, steps: tuple[str, ...] = STEPS) -> None:
    """Have the store at `store_path` wait for `steps` (every step: a new store has no model and no score yet)."""
    files.write_private(queue_path(store_path), "".join(f"{step}\n" for step in steps))


def waiting(store_path: Path) -> tuple[str, ...]:
    """The steps the store waits for, in order (none when nothing is queued)."""
    try:
        lines = queue_path(store_path).read_text("utf-8").splitlines()
    except FileNotFoundError:
        return ()
    return tuple(step for step in STEPS if step in lines)


def underway(store_path: Path) -> frozenset[str]:
    """The kinds of figure (churn, products, care) whose steps are waiting while a process works on them; none
    when no process does (nothing queued, or the one that was stopped before it was done)."""
    steps = waiting(store_path)
    if not steps or not _locked(_lock_path(store_path)):
        return frozenset()
    return frozenset(kind for kind, brought in BRINGS.items() if set(brought) & set(steps))


def _locked(path: Path) -> bool:
    try:
        handle = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)  # a lock taken here goes with it
    return False


class Worker:
    """The one process working on a store's steps, holding their lock (see `working`)."""

    def __init__(self, store_path: Path):
        self.store_path = Path(store_path)

    def waiting(self) -> tuple[str, ...]:
        return waiting(self.store_path)

    def done(self, step: str) -> None:
        """`step` ended by itself (whether its model was published or not): the store no longer waits for it."""
        left = tuple(s for s in self.waiting() if s != step)
        if left:
            queue(self.store_path, left)
        else:
            queue_path(self.store_path).unlink(missing_ok=True)


@contextlib.contextmanager
def working(store_path: Path) -> Iterator[Worker | None]:
    """The lock on the store's steps, taken without waiting: a Worker, or None while another process works on
    them. The block's end lets go of this process's copy of the lock: a child forked inside the block keeps
    holding it (flock: the lock belongs to the open file, which the child shares) until it ends too."""
    handle = os.open(files.private_file(_lock_path(store_path)), os.O_RDWR)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
        else:
            yield Worker(store_path)
    finally:
        os.close(handle)
