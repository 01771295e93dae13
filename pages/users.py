"""Users (admins): who may sign in, with which role and branches. Changes go through `bankcrm users`."""

import pandas as pd
import streamlit as st

from auth.users import UsersFile
from ui import guard

guard.page("users")

users = UsersFile()
st.title("Users")
st.caption(f"From {users.path}. Add, disable or change users with `bankcrm users add|disable|reset-password|"
           "set-role|set-branches`: every change is checked and written to the audit log.")
st.dataframe(
    pd.DataFrame([{"username": u.username, "name": u.name, "role": u.role, "branches": ", ".join(u.branches),
                   "status": "disabled" if u.disabled else "active"} for u in users.users()]),
    hide_index=True, width="stretch",
)
