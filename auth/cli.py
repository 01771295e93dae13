"""`bankcrm users ...`: manage the users file without editing hashes by hand."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from analytics import state
from auth.roles import ROLES
from auth.sessions import Sessions
from auth.users import UsersError, UsersFile

users_app = typer.Typer(no_args_is_help=True, help="Manage who may sign in: the users file ($BANKCRM_USERS).")
# Paths, values from files and what users typed are printed as they are: no rich markup, no :emoji: codes.
console = Console(stderr=True, soft_wrap=True, markup=False, emoji=False)

FileOption = Annotated[Optional[Path], typer.Option("--file", help="The users file (default: $BANKCRM_USERS or the demo file).")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _branches(text: str | None) -> tuple[str, ...]:
    return tuple(b.strip() for b in (text or "").split(",") if b.strip())


def _apply(event: str, username: str, change, **detail) -> None:
    """Make the change, audit it, and (but for a new user) end the user's open sessions: whoever signed in
    before a password reset, a role or branch change or a disabling must sign in again."""
    try:
        change()
    except UsersError as problem:
        console.print(f"Not changed: {problem}")
        raise typer.Exit(code=1) from None
    store = state.StateStore()
    ended = 0 if event == "user_added" else Sessions(store).end_all(username, "ended_by_cli")
    store.record(getpass.getuser(), event, role="cli", username=username, sessions_ended=ended, **detail)
    console.print(f"{event.replace('_', ' ')}: {username}" + (f" ({ended} open session{'s' if ended != 1 else ''} "
                                                               "ended)" if ended else ""))


@users_app.command("add")
def add(username: str, role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
        name: Annotated[Optional[str], typer.Option(help="Display name.")] = None,
        branches: Annotated[Optional[str], typer.Option(help="Branch codes for a branch head, comma separated.")] = None,
        password_stdin: PasswordStdin = False, file: FileOption = None) -> None:
    """Add a user with a role (and branches for a branch head)."""
    users = UsersFile(file)
    _apply("user_added", username, lambda: users.add(username, name or username, role, _password(password_stdin),
                                                      _branches(branches)), new_role=role, branches=_branches(branches))


@users_app.command("list")
def list_(file: FileOption = None) -> None:
    """List users, their roles and branches (never their hashes)."""
    table = Table("username", "name", "role", "branches", "status")
    for user in UsersFile(file).users():
        table.add_row(user.username, user.name, user.role, ",".join(user.branches), "disabled" if user.disabled else "active")
    Console(markup=False, emoji=False).print(table)


@users_app.command("disable")
def disable(username: str, file: FileOption = None) -> None:
    """Disable a user: they can no longer sign in, and an open session ends at its next step."""
    users = UsersFile(file)
    _apply("user_disabled", username, lambda: users.disable(username))


@users_app.command("reset-password")
def reset_password(username: str, password_stdin: PasswordStdin = False, file: FileOption = None) -> None:
    """Set a new password."""
    users = UsersFile(file)
    _apply("password_reset", username, lambda: users.reset_password(username, _password(password_stdin)))


@users_app.command("set-role")
def set_role(username: str, role: str, file: FileOption = None) -> None:
    """Change a user's role."""
    users = UsersFile(file)
    _apply("role_changed", username, lambda: users.set_role(username, role), new_role=role)


@users_app.command("set-branches")
def set_branches(username: str, branches: Annotated[str, typer.Argument(help="Comma-separated branch codes.")],
                 file: FileOption = None) -> None:
    """Change the branches a branch head sees."""
    users = UsersFile(file)
    _apply("branches_changed", username, lambda: users.set_branches(username, _branches(branches)),
           branches=_branches(branches))
