"""The pages of the app, who may open each, and the scope a signed-in person gets.

Who may do what (opening a page included) is the one table in
analytics.permissions; this module only lists the pages and reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics import permissions
from analytics.i18n import t
from analytics.permissions import PII_BY_ROLE, ROLES
from analytics.scope import Scope


@dataclass(frozen=True)
class PageSpec:
    key: str          # also the URL path (the first page is the default, at /)
    file: str
    icon: str

    @property
    def roles(self) -> frozenset[str]:
        return permissions.roles(f"open:{self.key}")

    def title_in(self, lang: str) -> str:
        return t(f"page.{self.key}", lang)

    @property
    def title(self) -> str:
        return self.title_in("en")


# Every page of the app, once: the navigation, the refusal and the tests read this.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "pages/overview.py", ":material/monitoring:"),
    PageSpec("tiers", "pages/tiers.py", ":material/stacked_bar_chart:"),
    PageSpec("funnel", "pages/funnel.py", ":material/filter_alt:"),
    PageSpec("satisfaction", "pages/satisfaction.py", ":material/sentiment_satisfied:"),
    PageSpec("churn", "pages/churn.py", ":material/warning:"),
    PageSpec("portfolio", "pages/portfolio.py", ":material/account_tree:"),
    PageSpec("campaigns", "pages/campaigns.py", ":material/campaign:"),
    PageSpec("model", "pages/model.py", ":material/model_training:"),
    PageSpec("studio", "pages/studio.py", ":material/tune:"),
    PageSpec("users", "pages/users.py", ":material/group:"),
    PageSpec("audit", "pages/audit.py", ":material/shield_person:"),
)


def allowed(role: str, page_key: str) -> bool:
    return any(p.key == page_key for p in PAGES) and permissions.may(role, f"open:{page_key}")


def scope_for(username: str, role: str, branches: tuple[str, ...] = ()) -> Scope:
    """The scope a user works in: which branches, and how customer PII is shown."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role == "branch_head":
        if not branches:
            raise ValueError(f"branch head {username!r} has no branches")
        return Scope(username, role, frozenset(branches), PII_BY_ROLE[role])
    return Scope(username, role, None, PII_BY_ROLE[role])
