"""Settings: one frozen object built once from the environment.

This module is the only reader of ``os.environ`` in the project. A bad value fails at start
with a :class:`SettingsError` that names the variable.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
BROKER_SCHEMES = ("redis", "rediss")
STORE_SCHEMES = ("file", "s3")
MIN_SEAL_KEY_CHARS = 32  # worker/secrets/seals.py: MIN_SEAL_KEY_BYTES
SEAL_KEY_FILE = "seal.key"  # beside the SQLite database of the embedded defaults
# The browsers a replay may start by default, from Debian's packages: the headless shell
# (chromium-headless-shell: Chromium's "old" headless mode, a browser without a browser UI)
# when it is installed, else the full browser (chromium). The shell does the same page work
# for about half the CPU (docs/BENCHMARKS.md, "The browser"); a headed replay needs the full one.
HEADLESS_SHELL_PATH = "/usr/bin/chromium-headless-shell"
FULL_CHROMIUM_PATH = "/usr/bin/chromium"


def default_chromium_path() -> str:
    """Debian's headless shell when it is installed, else Debian's Chromium."""
    if os.path.isfile(HEADLESS_SHELL_PATH) and os.access(HEADLESS_SHELL_PATH, os.X_OK):
        return HEADLESS_SHELL_PATH
    return FULL_CHROMIUM_PATH


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./var/scriptcache.db"
    broker_url: str = "redis://localhost:6379/0"
    store_url: str = "file://./var/blobs"
    # Debounce (worker/domain/window.py): a run is due a quiet period after its last event (the
    # quiet factor times its typical gap, at least quiet_s) or max wait after the first event
    # no generation covered, whichever is earlier; run_finished makes it due at once.
    quiet_s: float = 2.0
    max_wait_s: float = 1200.0
    quiet_factor: float = 10.0
    # Timing ladder (docs/ARCHITECTURE.md): heartbeat (lease / 3) < lease < broker visibility
    # timeout, and hard time limit < visibility timeout. A generation renews its lease every
    # lease / 3 seconds, so a dead worker's run is picked up about one lease plus a sweep later.
    task_soft_time_limit_s: float = 96.0
    task_time_limit_s: float = 120.0
    lease_s: float = 30.0
    visibility_timeout_s: float = 3600.0
    sweep_interval_s: float = 5.0
    # A run whose run_started has not arrived after this long is dead-lettered.
    run_start_wait_s: float = 600.0
    max_retries: int = 8
    retry_backoff_max_s: float = 120.0
    max_event_bytes: int = 8 * 1024 * 1024
    s3_endpoint_url: str | None = None
    log_format: str = "console"
    log_level: str = "INFO"
    flower_basic_auth: str | None = None
    # For `scriptcache replay` and the demo (the browser extra): see default_chromium_path.
    chromium_path: str = field(default_factory=default_chromium_path)
    # The closed loop (ARCHITECTURE.md §8): repair revisions per script in any 24 hours, and
    # how long a replay waits for an optional action's element before going on without it.
    repairs_per_day: int = 10
    optional_wait_s: float = 1.0
    # The keys seals of secret values are made under (worker/secrets/seals.py): the first
    # makes them, all check them (the others are previous keys, during a rotation). Never
    # shown nor compared. Built directly (tests, tools), Settings gets a fresh random key.
    seal_keys: tuple[bytes, ...] = field(
        default_factory=lambda: (secrets.token_hex(32).encode(),), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.task_soft_time_limit_s >= self.task_time_limit_s:
            raise SettingsError(
                "SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S must be below SCRIPTCACHE_TASK_TIME_LIMIT_S, "
                f"got {self.task_soft_time_limit_s} / {self.task_time_limit_s}"
            )
        if self.quiet_s > self.max_wait_s:
            raise SettingsError(
                "SCRIPTCACHE_QUIET_S must not exceed SCRIPTCACHE_MAX_WAIT_S, "
                f"got {self.quiet_s} / {self.max_wait_s}"
            )
        if not self.lease_s < self.visibility_timeout_s:
            raise SettingsError(
                "SCRIPTCACHE_LEASE_S < SCRIPTCACHE_VISIBILITY_TIMEOUT_S must hold (a message "
                "is redelivered only after its run's lease lapsed), got "
                f"{self.lease_s} / {self.visibility_timeout_s}"
            )
        if not self.task_time_limit_s < self.visibility_timeout_s:
            raise SettingsError(
                "SCRIPTCACHE_TASK_TIME_LIMIT_S < SCRIPTCACHE_VISIBILITY_TIMEOUT_S must hold (a "
                "running task is never redelivered), got "
                f"{self.task_time_limit_s} / {self.visibility_timeout_s}"
            )
        if self.lease_s < 3.0:
            raise SettingsError(
                "SCRIPTCACHE_LEASE_S: at least 3 s (the heartbeat renews it every lease / 3), "
                f"got {self.lease_s}"
            )

    @property
    def heartbeat_s(self) -> float:
        """How often a generation renews its lease: three chances before it lapses."""
        return self.lease_s / 3

    @property
    def database_is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        hard_limit_s = _seconds(env, "SCRIPTCACHE_TASK_TIME_LIMIT_S", defaults.task_time_limit_s)
        database_url = _url(
            env, "SCRIPTCACHE_DATABASE_URL", defaults.database_url, DATABASE_SCHEMES
        )
        return cls(
            database_url=database_url,
            broker_url=_url(env, "SCRIPTCACHE_BROKER_URL", defaults.broker_url, BROKER_SCHEMES),
            store_url=_url(env, "SCRIPTCACHE_STORE_URL", defaults.store_url, STORE_SCHEMES),
            quiet_s=_seconds(env, "SCRIPTCACHE_QUIET_S", defaults.quiet_s),
            max_wait_s=_seconds(env, "SCRIPTCACHE_MAX_WAIT_S", defaults.max_wait_s),
            quiet_factor=_seconds(env, "SCRIPTCACHE_QUIET_FACTOR", defaults.quiet_factor),
            task_time_limit_s=hard_limit_s,
            # Unless set, the soft limit leaves a fifth of the hard limit for cleaning up.
            task_soft_time_limit_s=_seconds(
                env,
                "SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S",
                min(defaults.task_soft_time_limit_s, 0.8 * hard_limit_s),
            ),
            lease_s=_seconds(env, "SCRIPTCACHE_LEASE_S", defaults.lease_s),
            visibility_timeout_s=_seconds(
                env, "SCRIPTCACHE_VISIBILITY_TIMEOUT_S", defaults.visibility_timeout_s
            ),
            sweep_interval_s=_seconds(
                env, "SCRIPTCACHE_SWEEP_INTERVAL_S", defaults.sweep_interval_s
            ),
            run_start_wait_s=_seconds(
                env, "SCRIPTCACHE_RUN_START_WAIT_S", defaults.run_start_wait_s
            ),
            max_retries=_integer(env, "SCRIPTCACHE_MAX_RETRIES", defaults.max_retries),
            retry_backoff_max_s=_seconds(
                env, "SCRIPTCACHE_RETRY_BACKOFF_MAX_S", defaults.retry_backoff_max_s
            ),
            max_event_bytes=_integer(env, "SCRIPTCACHE_MAX_EVENT_BYTES", defaults.max_event_bytes),
            s3_endpoint_url=env.get("SCRIPTCACHE_S3_ENDPOINT_URL") or None,
            log_format=_choice(
                env, "SCRIPTCACHE_LOG_FORMAT", defaults.log_format, ("console", "json")
            ),
            log_level=_choice(
                env,
                "SCRIPTCACHE_LOG_LEVEL",
                defaults.log_level,
                ("DEBUG", "INFO", "WARNING", "ERROR"),
            ),
            flower_basic_auth=env.get("FLOWER_BASIC_AUTH") or None,
            chromium_path=_raw(env, "SCRIPTCACHE_CHROMIUM_PATH") or defaults.chromium_path,
            repairs_per_day=_integer(env, "SCRIPTCACHE_REPAIRS_PER_DAY", defaults.repairs_per_day),
            optional_wait_s=_seconds(env, "SCRIPTCACHE_OPTIONAL_WAIT_S", defaults.optional_wait_s),
            seal_keys=_seal_keys(env, database_url),
        )


def _seal_keys(env: Mapping[str, str], database_url: str) -> tuple[bytes, ...]:
    """SCRIPTCACHE_SEAL_KEY (then SCRIPTCACHE_SEAL_KEY_PREVIOUS, comma-separated, during a
    rotation); without it, the embedded defaults (SQLite) use a key file beside the database,
    created on first use; production (any other database) refuses to start."""
    previous = [k.strip() for k in (_raw(env, "SCRIPTCACHE_SEAL_KEY_PREVIOUS") or "").split(",")]
    current = _raw(env, "SCRIPTCACHE_SEAL_KEY")
    if current is None:
        if not database_url.startswith("sqlite"):
            raise SettingsError(
                "SCRIPTCACHE_SEAL_KEY: required with a PostgreSQL database (production); "
                f"at least {MIN_SEAL_KEY_CHARS} random characters, e.g. the output of "
                '`python -c "import secrets; print(secrets.token_hex(32))"`'
            )
        current = _key_file(_sqlite_dir(database_url) / SEAL_KEY_FILE)
    keys = [current, *(k for k in previous if k)]
    for name, key in zip(
        ["SCRIPTCACHE_SEAL_KEY"] + ["SCRIPTCACHE_SEAL_KEY_PREVIOUS"] * len(previous),
        keys,
        strict=False,
    ):
        if len(key.encode()) < MIN_SEAL_KEY_CHARS:
            raise SettingsError(
                f"{name}: a seal key has at least {MIN_SEAL_KEY_CHARS} characters, got {len(key)}"
            )
    return tuple(dict.fromkeys(k.encode() for k in keys))


def _sqlite_dir(database_url: str) -> Path:
    path = database_url.split("///", 1)[1] if "///" in database_url else ""
    path = path.split("?", 1)[0]
    return Path(path).parent if path and path != ":memory:" else Path("var")


def _key_file(path: Path) -> str:
    """The key in `path`, created on first use (owner-only; written aside and linked into
    place, so concurrent first starts agree on one key and none reads a half-written file)."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            finally:
                aside.unlink()
        return path.read_text().strip()
    except OSError as exc:
        raise SettingsError(
            f"SCRIPTCACHE_SEAL_KEY: unset, and the key file {path} cannot be made or read: {exc}"
        ) from None


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(f"{name}: expected a positive finite number of seconds, got {raw!r}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name}: expected a non-negative integer, got {raw!r}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _raw(env, name)
    if raw is None:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        scheme = urlsplit(raw).scheme
    except ValueError as exc:  # e.g. an unbalanced "[" in the host
        raise SettingsError(f"{name}: not a valid URL ({exc})") from None
    if scheme not in schemes:
        raise SettingsError(
            f"{name}: unknown URL scheme {scheme!r} in {_without_password(raw)!r}; "
            f"expected one of {', '.join(s + '://' for s in schemes)}"
        )
    if scheme == "postgresql":
        raw = "postgresql+psycopg" + raw[len("postgresql") :]
    return raw


def _without_password(url: str) -> str:
    """Mask the user info's password, even when it holds raw '#', '/', '?' or '@'."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"
