"""Roles, what each may open, and the scope a signed-in person gets.

The one table of permissions (shared/DESIGN.md, issue "Sign-in, roles"):

| role        | branches            | customer PII                  |
|-------------|---------------------|-------------------------------|
| executive   | all                 | masked                        |
| branch_head | their own list      | shown                         |
| analyst     | all                 | masked, stable pseudonyms     |
| admin       | all                 | shown                         |
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics import campaigns, rulebook
from analytics.i18n import t
from analytics.scope import Scope

ROLES = ("executive", "branch_head", "analyst", "admin")

PII_BY_ROLE = {"executive": "masked", "branch_head": "shown", "analyst": "pseudonym", "admin": "shown"}


@dataclass(frozen=True)
class PageSpec:
    key: str          # also the URL path (the first page is the default, at /)
    file: str
    icon: str
    roles: frozenset[str]

    def title_in(self, lang: str) -> str:
        return t(f"page.{self.key}", lang)

    @property
    def title(self) -> str:
        return self.title_in("en")


ALL = frozenset(ROLES)

# Every page of the app, once: the navigation, the refusal and the tests read this.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "pages/overview.py", ":material/monitoring:", ALL),
    PageSpec("tiers", "pages/tiers.py", ":material/stacked_bar_chart:", ALL),
    PageSpec("funnel", "pages/funnel.py", ":material/filter_alt:", ALL),
    PageSpec("satisfaction", "pages/satisfaction.py", ":material/sentiment_satisfied:", ALL),
    PageSpec("churn", "pages/churn.py", ":material/warning:", ALL),
    PageSpec("portfolio", "pages/portfolio.py", ":material/account_tree:", ALL),
    PageSpec("campaigns", "pages/campaigns.py", ":material/campaign:", campaigns.BUILDERS),
    PageSpec("model", "pages/model.py", ":material/model_training:", frozenset({"analyst", "admin"})),
    PageSpec("studio", "pages/studio.py", ":material/tune:", rulebook.EDITORS),
    PageSpec("users", "pages/users.py", ":material/group:", frozenset({"admin"})),
    PageSpec("audit", "pages/audit.py", ":material/shield_person:", frozenset({"admin"})),
)


# Actions beyond viewing, by role.
MAY_ASSIGN_CARE_TASKS = frozenset({"branch_head"})


def allowed(role: str, page_key: str) -> bool:
    return any(p.key == page_key and role in p.roles for p in PAGES)


def scope_for(username: str, role: str, branches: tuple[str, ...] = ()) -> Scope:
    """The scope a user works in: which branches, and how customer PII is shown."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role == "branch_head":
        if not branches:
            raise ValueError(f"branch head {username!r} has no branches")
        return Scope(username, role, frozenset(branches), PII_BY_ROLE[role])
    return Scope(username, role, None, PII_BY_ROLE[role])
