"""The layers: analytics is the product's computation and imports neither the pages' toolkit nor sign-in nor the
tools around it (the command line, the benchmark, the load test), so that it runs under Spark jobs, the CLI and
tests alike (#25 item 6)."""

from __future__ import annotations

import subprocess
import sys

IMPORT_EVERY_ANALYTICS_MODULE = """
import importlib, pkgutil, sys
import analytics
for found in pkgutil.walk_packages(analytics.__path__, "analytics."):
    importlib.import_module(found.name)
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_analytics_imports_neither_ui_nor_auth_nor_streamlit_nor_the_tools():
    done = subprocess.run([sys.executable, "-c", IMPORT_EVERY_ANALYTICS_MODULE], capture_output=True, text=True,
                          check=True)
    loaded = set(done.stdout.split())
    assert "analytics" in loaded
    assert not loaded & {"ui", "auth", "streamlit", "streamlit_authenticator", "bankcrm"}
