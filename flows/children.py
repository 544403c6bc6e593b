"""Processes a run starts die with it, however it ends.

Why: a run starts processes of its own. Prefect's ephemeral API server (uvicorn) is the main
one, started by Prefect as a plain child. When the run ends normally, Prefect stops it. When the
run is killed (`kill -9`, the OOM killer, a scheduler's hard timeout), nobody does: the server
keeps running and holding its port and database, once per killed run. A killed parent cannot
stop its children, and Prefect starts this one without a hook we could use.

How: `die_with_me()` marks this process's environment with a token, which every child inherits
(Prefect passes `os.environ` on to its server), and starts a small watchdog in its own session.
The watchdog polls whether its parent is still alive; once it is gone, it kills every process
that carries the token, then exits. Its cost is one idle process per run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid

import psutil

TOKEN_VAR = "OMS_RUN_TOKEN"
POLL_SECONDS = 0.5


def die_with_me() -> str:
    """Mark this process (so every process it starts) and start the watchdog; return the token.
    Idempotent within a process: a second call reuses the token and its watchdog."""
    token = os.environ.get(TOKEN_VAR)
    if token and os.environ.get(f"{TOKEN_VAR}_OWNER") == str(os.getpid()):
        return token
    token = uuid.uuid4().hex
    subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "flows.children", str(os.getpid()), token],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in our process group: a signal to the group spares it
        close_fds=True,
    )
    os.environ[TOKEN_VAR] = token
    os.environ[f"{TOKEN_VAR}_OWNER"] = str(os.getpid())
    return token


def carrying(token: str) -> list[psutil.Process]:
    """The processes whose environment holds `token` (our user's processes only can be read)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(TOKEN_VAR) == token:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _watch(parent_pid: int, token: str) -> None:
    try:
        parent = psutil.Process(parent_pid)
        born = parent.create_time()
    except psutil.NoSuchProcess:
        born = None
    while born is not None:
        try:
            p = psutil.Process(parent_pid)
            if p.create_time() != born or p.status() == psutil.STATUS_ZOMBIE:
                break  # the pid was reused by another process, or ours is dead
        except psutil.NoSuchProcess:
            break
        time.sleep(POLL_SECONDS)
    left = carrying(token)
    for proc in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(left, timeout=5)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


if __name__ == "__main__":  # pragma: no cover - the watchdog process
    _watch(int(sys.argv[1]), sys.argv[2])
