"""Private files: what bankcrm writes is readable by its owner only.

Every file the product creates that holds customer data, password hashes, secrets, the audit log or models
(the store and its WAL, the state store and its -wal/-shm, their lock files, the users file, model files
and their papers, Parquet exports) is created FILE_MODE, and every folder it creates for them DIR_MODE,
whatever the process's umask. A file that replaces another in one rename has the private mode from the
moment it is created, so the new inode is never readable by others, whatever the mode of the file it
replaces. Folders that exist already (a checkout's data/) keep the mode their owner gave them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077  # what a library's files and folders get: FILE_MODE and DIR_MODE

_umask_lock = threading.Lock()
_umask_blocks = 0
_umask_outside = 0


def private_by_default() -> None:
    """For the process's entry point (the CLI, the app): whatever else it creates is private too."""
    os.umask(PRIVATE_UMASK)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders a library (DuckDB, pyarrow) creates inside the block are private, its WAL included.

    The umask belongs to the process: blocks in several threads are counted and the umask outside them comes
    back when the last one ends (other threads meanwhile create private files too, never looser ones)."""
    global _umask_blocks, _umask_outside
    with _umask_lock:
        if _umask_blocks == 0:
            _umask_outside = os.umask(PRIVATE_UMASK)
        _umask_blocks += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_blocks -= 1
            if _umask_blocks == 0:
                os.umask(_umask_outside)


def make_dir(path: Path) -> Path:
    """`path` as a folder, itself and any missing parent created DIR_MODE; existing folders are left as they are."""
    path = Path(path)
    if not path.is_dir():
        make_dir(path.parent)
        with contextlib.suppress(FileExistsError):
            path.mkdir(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """`path`, created empty if missing, FILE_MODE either way: for a library to open (SQLite makes its
    -wal and -shm with the mode of the database file), or a lock to hold.

    A file that exists is never opened here: closing any descriptor of a file drops every POSIX lock the
    process holds on it, so opening and closing a database that another thread has open would drop SQLite's
    locks, and another process could then take the WAL from under that thread ("disk I/O error")."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    if stat.S_IMODE(os.stat(path).st_mode) != FILE_MODE:  # made before files were private
        os.chmod(path, FILE_MODE)
    return Path(path)


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one rename, so that a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        private_file(tmp).write_text(text, "utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
