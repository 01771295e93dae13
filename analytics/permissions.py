"""Who may do what: the one table of roles and their rights, beside the scope (what each may see).

Every action in analytics checks it (`check`), so a page, a script or a
crafted request that calls an action directly gets the same refusal as the
menu; auth reads it for sign-in and the page list, pages only to hide what
a role may not use.

| role        | branches         | customer PII              | may, beyond viewing                           |
|-------------|------------------|---------------------------|-----------------------------------------------|
| executive   | all              | masked                    | read care tasks (masked)                      |
| branch_head | their own list   | shown                     | assign, read and close care tasks; build and save campaign lists; see the bank's figures and their branches' rank among all (aggregates only) |
| analyst     | all              | masked, stable pseudonyms | edit and propose rule sets; build lists (pseudonymised) |
| admin       | all              | shown                     | decide on rule sets; save lists; read care tasks; users, sessions, audit log |
"""

from __future__ import annotations

ROLES = ("executive", "branch_head", "analyst", "admin")
ALL = frozenset(ROLES)

# How each role sees customer PII (analytics.scope.PII_MODES).
PII_BY_ROLE = {"executive": "masked", "branch_head": "shown", "analyst": "pseudonym", "admin": "shown"}

# action -> the roles that may do it. "open:<page>" is opening a page of the app.
ACTIONS: dict[str, frozenset[str]] = {
    "open:overview": ALL,
    "open:tiers": ALL,
    "open:funnel": ALL,
    "open:satisfaction": ALL,
    "open:churn": ALL,
    "open:portfolio": ALL,
    "open:campaigns": frozenset({"branch_head", "analyst", "admin"}),
    "open:model": frozenset({"analyst", "admin"}),
    "open:studio": frozenset({"analyst", "admin"}),
    "open:users": frozenset({"admin"}),
    "open:audit": frozenset({"admin"}),
    # the bank's figures and the rank of one's own branches among all, never another branch's rows (ScopedStore.standing)
    "branches:compare": ALL,
    "care:read": frozenset({"executive", "branch_head", "admin"}),  # analysts work on pseudonyms, not on tasks
    "care:assign": frozenset({"branch_head"}),
    "care:complete": frozenset({"branch_head"}),
    "campaign:build": frozenset({"branch_head", "analyst", "admin"}),
    "campaign:save": frozenset({"branch_head", "admin"}),  # turns a list into leads assigned to RMs
    "rules:edit": frozenset({"analyst", "admin"}),         # save a version and propose it (a roll-back too)
    "rules:decide": frozenset({"admin"}),                  # approve or reject someone else's proposal
    "sessions:end": frozenset({"admin"}),
    "audit:read": frozenset({"admin"}),
}


class Forbidden(PermissionError):
    """The role may not do this; `action` and `role` say what was refused to whom."""

    def __init__(self, action: str, role: str):
        self.action, self.role = action, role
        super().__init__(f"a {role.replace('_', ' ')} may not {action}")


def may(role: str, action: str) -> bool:
    return role in ACTIONS[action]


def roles(action: str) -> frozenset[str]:
    return ACTIONS[action]


def check(role: str, action: str) -> None:
    """Raise Forbidden unless `role` may do `action` (an unknown action is a programming error: KeyError)."""
    if not may(role, action):
        raise Forbidden(action, role)
