"""What the benchmarks share: the machine, PostgreSQL databases, a private Redis, real worker
processes, counters (SQL statements, blob bytes, CPU) and realistic events.

Benchmarks print figures; they assert nothing about timing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py`: make tests/ and worker/ importable
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, event, text  # noqa: E402

from tests.factory import RunBuilder, definition, task_block  # noqa: E402
from tests.support.services import PG_ADMIN_URL, free_port, wait_for_port  # noqa: E402
from tests.support.stack import TEST_ENV  # noqa: E402
from worker.adapters.sql.engine import make_engine  # noqa: E402
from worker.adapters.sql.migrate import upgrade  # noqa: E402
from worker.adapters.store import BlobStore  # noqa: E402

# --- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    """One figure, side by side with its baseline measured in the same run."""

    bench: str
    metric: str
    value: float
    baseline: float | None
    unit: str
    baseline_name: str
    better: str = "lower"  # "lower" or "higher": how the ratio is oriented
    goal: str = ""
    goal_min: float | None = None  # the ratio the goal asks for, when it is a ratio
    goal_max: float | None = None  # the value the goal allows at most, when it is absolute

    def met(self) -> str:
        if self.goal_max is not None:
            return "yes" if self.value <= self.goal_max else "NO"
        ratio = self.ratio()
        if self.goal_min is None or ratio is None:
            return ""
        return "yes" if ratio >= self.goal_min else "NO"

    def ratio(self) -> float | None:
        if self.baseline is None or self.value == 0 or self.baseline == 0:
            return None
        return self.baseline / self.value if self.better == "lower" else self.value / self.baseline


@dataclass
class Result:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)  # for the plot


def machine() -> str:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, {mem_kb / 1024**2:.1f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}, load average at start {load}"
    )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


# --- processes: CPU of a tree of them, from /proc ----------------------------------------


TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def tree_cpu(pids: list[int]) -> float:
    """user + sys CPU of these processes and all their descendants alive now (with what they
    reaped), in seconds: a running process's CPU so far."""
    total, todo = 0, list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        todo.extend(children(pid))
    return total / TICKS


# --- PostgreSQL: a migrated template, fresh databases from it, all dropped at the end --------


class Databases:
    def __init__(self) -> None:
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []
        self.template = self._create(f"sc_bench_tmpl_{uuid.uuid4().hex[:8]}")
        engine = make_engine(self.url(self.template))
        upgrade(engine)
        engine.dispose()

    def url(self, name: str) -> str:
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def _create(self, name: str, template: str | None = None) -> str:
        suffix = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
        self.names.append(name)
        return name

    def fresh(self) -> str:
        """The URL of a new, migrated database."""
        return self.url(self._create(f"sc_bench_{uuid.uuid4().hex[:10]}", self.template))

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.names):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.names.clear()
        self.admin.dispose()


# --- Redis: a private server on a free port, stopped by pid ---------------------------------


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is required on PATH")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


# --- worker processes ------------------------------------------------------------------------


def worker_env(database_url: str, broker_url: str, store_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        **TEST_ENV,
        "SCRIPTCACHE_DATABASE_URL": database_url,
        "SCRIPTCACHE_BROKER_URL": broker_url,
        "SCRIPTCACHE_STORE_URL": f"file://{store_dir}",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}",
    }


def celery(app: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A `celery` subprocess in its own session, so it and its pool children stop together."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def worker_args(queues: str, concurrency: int, name: str) -> list[str]:
    return [
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "-P",
        "prefork",
        "-n",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def stop_process(proc: subprocess.Popen[bytes], group: bool = False) -> None:
    if proc.poll() is None:
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait()


def rss_kb(pid: int) -> int:
    """VmRSS of a process plus its children (a prefork pool), in KiB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pids.extend(int(c) for c in children)
    return total


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05
) -> float:
    """Poll until true; returns the time.monotonic() at which it was seen true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval_s)
    raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")


# --- counters --------------------------------------------------------------------------------


class StatementCounter:
    """SQL statements sent by an engine (each executemany batch counts once), by phase, and
    the CPU the PostgreSQL backends of its connections used."""

    def __init__(self, engine: Engine) -> None:
        self.phase = "other"
        self.counts: dict[str, int] = {}
        self.verbs: dict[str, int] = {}  # first word of each statement: SELECT, INSERT ...
        self.backend_pids: set[int] = set()
        event.listen(engine, "before_cursor_execute", self._count)
        event.listen(engine, "connect", self._connect)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.counts[self.phase] = self.counts.get(self.phase, 0) + 1
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        self.verbs[verb] = self.verbs.get(verb, 0) + 1

    def _connect(self, dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend_pids.add(int(cursor.fetchone()[0]))

    def total(self) -> int:
        return sum(self.counts.values())

    def backend_cpu_s(self) -> float:
        """utime + stime of this engine's PostgreSQL backends (same machine), in seconds."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.backend_pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / ticks


class CountingStore:
    """A blob store that counts what is handed to it: every put is an upload."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.puts = self.bytes_put = self.bytes_new = 0

    def put(self, data: bytes) -> str:
        self.puts += 1
        self.bytes_put += len(data)
        if not self.inner.exists(hashlib.sha256(data).hexdigest()):
            self.bytes_new += len(data)
        return self.inner.put(data)

    def get(self, sha256: str) -> bytes:
        return self.inner.get(sha256)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def describe(self) -> str:
        return self.inner.describe()


def blob_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# --- realistic events ------------------------------------------------------------------------

KINDS = (
    "click",
    "input_text",
    "select_option",
    "click",
    "hover",
    "input_text",
    "scroll",
    "keypress",
    "click",
    "extract",
)


def actions_for(label: str, count: int) -> list[dict[str, Any]]:
    """What an agent records for one block: the same for a label in every run."""
    out = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        out.append(
            {
                "action_type": kind,
                "xpath": f"//main[@id='app']//section[@data-step='{label}']//form/div[{i + 1}]"
                f"/*[self::input or self::select or self::button][@name='field_{i}']",
                "intention": f"Step {i} of {label}: fill in or confirm field {i} so the form "
                "can be submitted without validation errors",
                "reasoning": f"The page shows the {label} form. Field {i} is empty and required; "
                "the goal says to use the value from the workflow parameters, and "
                "the visible label matches. Acting on it moves the task forward.",
                "text": f"value {i} for {label}" if kind in ("input_text", "keypress") else None,
                "option": f"Option {i % 4}" if kind == "select_option" else None,
            }
        )
    return out


def linear_events(
    run_id: str, wpid: str, blocks: int, actions: int, *, finish: bool = True
) -> list[dict[str, Any]]:
    """A run of a workflow of `blocks` task blocks, each with `actions` recorded actions."""
    labels = [f"step_{i:05d}" for i in range(blocks)]
    builder = RunBuilder(run_id, wpid, definition([task_block(label) for label in labels]))
    for label in labels:
        builder.block(label, actions=actions_for(label, actions))
    return builder.finish() if finish else builder.events


def retime(events: list[dict[str, Any]], times: list[datetime]) -> list[dict[str, Any]]:
    return [{**e, "occurred_at": t.isoformat()} for e, t in zip(events, times, strict=True)]


def ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def drained(client: Any, queue: str) -> bool:
    """The queue is empty and none of its messages waits for an ack. Publishing registers
    every message in `unacked` (config/redis_transport.py), so entries of queues nobody
    consumes here (scriptcache.generate in the intake benchmark) do not count."""
    if client.llen(queue) or not client.hlen("unacked"):
        return not client.llen(queue)
    for _, entry in client.hscan_iter("unacked", count=500):
        if json.loads(entry)[2] == queue:  # [message, exchange, routing_key]
            return False
    return True


def run_standalone(
    run: Callable[[Databases, str, int], Result], doc: str | None, option: str, default: int
) -> None:
    """`python bench/bench_X.py [--OPTION N]`: a private Redis and fresh databases around one
    benchmark, its rows printed against their baselines."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument(f"--{option}", type=int, default=default)
    size = getattr(parser.parse_args(), option)
    dbs = Databases()
    try:
        with redis_server() as broker_url:
            result = run(dbs, broker_url, size)
    finally:
        dbs.drop_all()
    for r in result.rows:
        print(f"{r.metric}: {fmt(r.value)} vs {fmt(r.baseline)} {r.unit} (x{fmt(r.ratio())})")
    print(*result.notes, sep="\n")
