"""Processes and ports: what every test that starts a service uses."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "worker" / "samples"
PG_ADMIN_URL = os.environ.get(
    "SCRIPTCACHE_TEST_PG_URL", "postgresql+psycopg://postgres@localhost:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def start_flower(
    port: int,
    var_dir: Path,
    auth: str,
    env: dict[str, str] | None = None,
    *,
    stderr: int = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """deploy/flower.sh on `port` with the login `auth`, its state in `var_dir`, the venv's
    `celery` first on PATH; `env` on top (a stack's broker, another PATH). In a session of its
    own, so that its process group can be signalled as honcho and systemd do."""
    environ = {
        **os.environ,
        "FLOWER_BASIC_AUTH": auth,
        "FLOWER_PORT": str(port),
        "SCRIPTCACHE_VAR_DIR": str(var_dir),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    return subprocess.Popen(
        ["bash", "deploy/flower.sh"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- PostgreSQL: databases copied from a migrated template (the fixtures: tests/conftest.py) --


def admin_engine() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def db_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def fresh_database(pg_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database copied from the template, dropped on the way out."""
    name = f"sc_test_{uuid.uuid4().hex[:12]}"
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    try:
        yield db_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
