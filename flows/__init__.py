"""Prefect flows, the `oms` CLI and the warehouse I/O that glue connectors, dbt and forecasting.

Prefect keeps its home (its SQLite database, settings and logs) inside the project folder, so a
fresh checkout needs no Prefect server and nothing is written to the user's home directory. These
are defaults only: an exported PREFECT_* variable wins.
"""

import os
from pathlib import Path

os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# Libraries we call talk more than a scheduler's log needs: keep their warnings, drop their chatter.
import logging  # noqa: E402
import warnings  # noqa: E402

logging.getLogger("great_expectations").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
warnings.filterwarnings("ignore", message="Boolean Series key will be reindexed")
