"""Users (admins): who may sign in, with which role and branches. Changes go through `bankcrm users`."""

import pandas as pd
import streamlit as st

from auth.users import UsersFile
from ui import guard
from ui.i18n import t
from ui.tables import table

guard.page("users")

users = UsersFile()
st.title(t("page.users"))
st.caption(t("users.caption", path=users.path))
table(pd.DataFrame([{"username": u.username, "name": u.name, "role": t(f"role.{u.role}"),
                     "branches": ", ".join(u.branches), "status": t("status.disabled" if u.disabled else "status.active")}
                    for u in users.users()]),
      {"username": ("col.username", None), "name": ("col.name", None), "role": ("col.role", None),
       "branches": ("col.branches", None), "status": ("col.status", None)}, "users")
