"""A real web application under test: Django's admin (installed from PyPI) on loopback.

tests/realapp/project is a small help-desk project: customers, orders and tickets
registered in Django's admin, a superuser (`admin`) and a staff clerk (`clerk`) with the
shop's permissions, seeded rows. `seeded_database` migrates and seeds a SQLite file once;
`DeskApp.start` copies it and serves the copy with `manage.py runserver --noreload` on a free
port in a subprocess, stopped by its pid. Pages, CSRF protection, redirects and messages are
Django's own.

The application's state is read through its own database (SQL on the SQLite file, the
tables Django's ORM made), never through anything the tests keep on the side. Site changes
are template overrides (project/variants/), switched by writing the variant file.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.services import free_port, stop

PROJECT = Path(__file__).resolve().parent / "project"
VARIANTS = tuple(sorted(p.name for p in (PROJECT / "variants").iterdir() if p.is_dir()))
START_TIMEOUT_S = 30.0
# One request as runserver logs it: [date] "GET /admin/ HTTP/1.1" 200 1234
_REQUEST = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" ([0-9]{3})')


@dataclass(frozen=True)
class Users:
    """The seeded accounts' passwords (fresh per test session)."""

    admin_password: str
    clerk_password: str

    def password(self, username: str) -> str:
        return {"admin": self.admin_password, "clerk": self.clerk_password}[username]


def _manage(
    args: Sequence[str], env: dict[str, str], timeout_s: float = 120, python: str = sys.executable
) -> None:
    done = subprocess.run(
        [python, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _env(database: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DESKAPP_DB": str(database), "PYTHONDONTWRITEBYTECODE": "1", **extra}


def seeded_database(directory: Path, python: str = sys.executable) -> tuple[Path, Users]:
    """Migrate a fresh SQLite database and seed it (users, customers, orders); `python`: an
    interpreter with another Django (tests/realapp/test_upgrade.py)."""
    users = Users(f"adm-{secrets.token_urlsafe(9)}", f"clk-{secrets.token_urlsafe(9)}")
    database = directory / "desk-seeded.sqlite3"
    env = _env(
        database,
        DESKAPP_ADMIN_PASSWORD=users.admin_password,
        DESKAPP_CLERK_PASSWORD=users.clerk_password,
    )
    _manage(["migrate", "--no-input", "-v", "0"], env, python=python)
    _manage(["seed"], env, python=python)
    return database, users


@dataclass(frozen=True)
class Order:
    number: str
    customer: str
    status: str
    total: str


@dataclass(frozen=True)
class Ticket:
    order: str
    contact_email: str
    subject: str
    created_by: str | None


@dataclass(frozen=True)
class AdminLog:
    """One row of django_admin_log: what a signed-in user added or changed in the admin."""

    id: int
    username: str
    model: str
    object_repr: str
    action: str  # "added" | "changed" | "deleted"
    change_message: str


@dataclass(frozen=True)
class State:
    """The application's data, read from its database."""

    orders: dict[str, Order]
    tickets: tuple[Ticket, ...]
    log: tuple[AdminLog, ...]
    last_login: dict[str, str | None]

    def log_since(self, before: State) -> tuple[AdminLog, ...]:
        seen = {entry.id for entry in before.log}
        return tuple(entry for entry in self.log if entry.id not in seen)

    def orders_changed_since(self, before: State) -> dict[str, tuple[Order, Order]]:
        return {
            n: (before.orders[n], o) for n, o in self.orders.items() if before.orders.get(n) != o
        }

    def tickets_since(self, before: State) -> tuple[Ticket, ...]:
        return self.tickets[len(before.tickets) :]


_ACTIONS = {1: "added", 2: "changed", 3: "deleted"}


@dataclass
class DeskApp:
    """One running instance of the help desk on its own copy of the seeded database."""

    database: Path
    variant_file: Path
    slow_file: Path
    users: Users
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    @contextmanager
    def start(
        cls,
        seeded: Path,
        users: Users,
        directory: Path,
        python: str = sys.executable,
        port: int | None = None,
    ) -> Iterator[DeskApp]:
        database = directory / "desk.sqlite3"
        shutil.copyfile(seeded, database)
        app = cls(
            database,
            directory / "variant.txt",
            directory / "slow.txt",
            users,
            free_port() if port is None else port,
            directory / "runserver.log",
        )
        app.variant_file.write_text("", encoding="utf-8")
        app.slow_file.write_text("", encoding="utf-8")
        env = _env(
            database,
            DESKAPP_VARIANT_FILE=str(app.variant_file),
            DESKAPP_SLOW_FILE=str(app.slow_file),
        )
        with app.log_path.open("wb") as log:
            app.process = subprocess.Popen(
                [
                    python,
                    "manage.py",
                    "runserver",
                    f"127.0.0.1:{app.port}",
                    "--noreload",
                    "--insecure",
                ],
                cwd=PROJECT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            app._wait_ready()
            yield app
        finally:
            stop(app.process)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"runserver exited: {self.server_log()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/admin/login/", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(
            f"the help desk did not answer in {START_TIMEOUT_S} s: {self.server_log()}"
        )

    def server_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request the application served, in order (its
        runserver log): where the browsers went, as the server saw it."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return [(method, path, int(status)) for method, path, status in _REQUEST.findall(text)]

    # --- site changes -------------------------------------------------------------------

    def switch(self, *variants: str) -> None:
        """Make the named site changes live (none: Django's own templates)."""
        unknown = set(variants) - set(VARIANTS)
        if unknown:
            raise ValueError(f"unknown site change(s) {sorted(unknown)}; known: {VARIANTS}")
        self.variant_file.write_text(" ".join(variants), encoding="utf-8")

    def slow_posts(self, seconds: float) -> None:
        """Answer form posts `seconds` late from now on (0: at once), as a loaded server."""
        self.slow_file.write_text(str(seconds), encoding="utf-8")

    # --- the application's own state -----------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        uri = f"file:{self.database}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    def state(self) -> State:
        orders = {
            row[0]: Order(*row)
            for row in self.query(
                "SELECT o.number, c.name, o.status, printf('%.2f', o.total) "
                "FROM shop_order o JOIN shop_customer c ON c.id = o.customer_id"
            )
        }
        tickets = tuple(
            Ticket(*row)
            for row in self.query(
                "SELECT o.number, t.contact_email, t.subject, u.username FROM shop_ticket t "
                "JOIN shop_order o ON o.id = t.order_id "
                "LEFT JOIN auth_user u ON u.id = t.created_by_id ORDER BY t.id"
            )
        )
        log = tuple(
            AdminLog(row[0], row[1], row[2], row[3], _ACTIONS.get(row[4], str(row[4])), row[5])
            for row in self.query(
                "SELECT l.id, u.username, ct.model, l.object_repr, l.action_flag, "
                "l.change_message FROM django_admin_log l JOIN auth_user u ON u.id = l.user_id "
                "JOIN django_content_type ct ON ct.id = l.content_type_id ORDER BY l.id"
            )
        )
        last_login = dict(self.query("SELECT username, last_login FROM auth_user"))
        return State(orders, tickets, log, last_login)

    def sessions_of(self, username: str) -> int:
        """How many live Django sessions belong to `username` (decoded by Django itself)."""
        done = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-v",
                "0",
                "-c",
                "from django.contrib.sessions.models import Session\n"
                "from django.contrib.auth.models import User\n"
                f"uid = str(User.objects.get(username={username!r}).pk)\n"
                "print(sum(s.get_decoded().get('_auth_user_id') == uid "
                "for s in Session.objects.all()))",
            ],
            cwd=PROJECT,
            env=_env(self.database),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"reading sessions failed: {done.stderr}")
        return int(done.stdout.split()[-1])
