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

# The warehouse, the buyer files, reports and logs hold customer data and plans: everything this
# process creates is owner-only (files 0600, folders 0700) unless OMS_UMASK says otherwise (e.g.
# OMS_UMASK=027 lets the owner's group, say the analysts, read the published warehouse).
UMASK = int(os.environ.get("OMS_UMASK", "077"), 8)
os.umask(UMASK)

# Libraries we call talk more than a scheduler's log needs: keep their warnings, drop their chatter.
import logging  # noqa: E402
import warnings  # noqa: E402

logging.getLogger("great_expectations").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
warnings.filterwarnings("ignore", message="Boolean Series key will be reindexed")

_USER_DBT_LOG_LEVEL = os.environ.get("DBT_LOG_LEVEL")


def configure_console(verbose: bool = False) -> None:
    """What the `oms` CLI prints besides its own output: nothing from the libraries (Prefect, GX,
    dbt, Python warnings) unless `verbose`. Their lines still reach each run's log file
    (`<output_dir>/logs/<run_id>.log`, `flows.pipeline.run_log`) and dbt's own
    (`.<warehouse>.dbt/logs/dbt.log` beside the warehouse file); `--verbose` also prints their INFO lines."""
    if not _USER_DBT_LOG_LEVEL:  # an exported DBT_LOG_LEVEL wins
        os.environ["DBT_LOG_LEVEL"] = "info" if verbose else "none"
        os.environ.setdefault("DBT_LOG_LEVEL_FILE", "debug")
    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()
    logging.captureWarnings(not verbose)
    logging.getLogger("prefect").setLevel(logging.INFO)  # the run's log file gets them
    silent = logging.CRITICAL + 1
    for name in ("", "uvicorn", "fastapi", "prefect._internal"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                handler.setLevel(logging.INFO if verbose else silent)
