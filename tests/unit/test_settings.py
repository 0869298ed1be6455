"""Settings.from_env: defaults, every variable, and failures that name the variable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from config.settings import Settings, SettingsError

SECRET = "hunter2-not-real"
KEY = {"SCRIPTCACHE_SEAL_KEY": "k" * 32}  # production (PostgreSQL) needs one


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.database_url == "sqlite:///./var/scriptcache.db"
    assert settings.database_is_sqlite
    assert settings.broker_url == "redis://localhost:6379/0"
    assert settings.store_url == "file://./var/blobs"
    assert settings.quiet_s == 2.0
    assert (settings.max_wait_s, settings.quiet_factor, settings.lease_s) == (1200.0, 10.0, 30.0)
    assert settings.heartbeat_s < settings.lease_s < settings.visibility_timeout_s
    assert settings.task_time_limit_s < settings.visibility_timeout_s
    assert settings == Settings()


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({"SCRIPTCACHE_QUIET_S": "  ", "SCRIPTCACHE_BROKER_URL": ""})

    assert settings.quiet_s == 2.0
    assert settings.broker_url == "redis://localhost:6379/0"


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        (
            "SCRIPTCACHE_DATABASE_URL",
            "postgresql+psycopg://u@db/sc",
            "database_url",
            "postgresql+psycopg://u@db/sc",
        ),
        ("SCRIPTCACHE_DATABASE_URL", "sqlite:////tmp/x.db", "database_url", "sqlite:////tmp/x.db"),
        ("SCRIPTCACHE_BROKER_URL", "rediss://cache:6380/2", "broker_url", "rediss://cache:6380/2"),
        ("SCRIPTCACHE_STORE_URL", "s3://bucket/prefix", "store_url", "s3://bucket/prefix"),
        ("SCRIPTCACHE_STORE_URL", "file:///srv/blobs", "store_url", "file:///srv/blobs"),
        ("SCRIPTCACHE_QUIET_S", "0.5", "quiet_s", 0.5),
        ("SCRIPTCACHE_MAX_WAIT_S", "45", "max_wait_s", 45.0),
        ("SCRIPTCACHE_QUIET_FACTOR", "4", "quiet_factor", 4.0),
        ("SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S", "90", "task_soft_time_limit_s", 90.0),
        ("SCRIPTCACHE_TASK_TIME_LIMIT_S", "150", "task_time_limit_s", 150.0),
        ("SCRIPTCACHE_LEASE_S", "400", "lease_s", 400.0),
        ("SCRIPTCACHE_VISIBILITY_TIMEOUT_S", "7200", "visibility_timeout_s", 7200.0),
        ("SCRIPTCACHE_SWEEP_INTERVAL_S", "1.5", "sweep_interval_s", 1.5),
        ("SCRIPTCACHE_RUN_START_WAIT_S", "60", "run_start_wait_s", 60.0),
        ("SCRIPTCACHE_MAX_RETRIES", "3", "max_retries", 3),
        ("SCRIPTCACHE_RETRY_BACKOFF_MAX_S", "30", "retry_backoff_max_s", 30.0),
        ("SCRIPTCACHE_MAX_EVENT_BYTES", "1024", "max_event_bytes", 1024),
        (
            "SCRIPTCACHE_S3_ENDPOINT_URL",
            "http://127.0.0.1:9000",
            "s3_endpoint_url",
            "http://127.0.0.1:9000",
        ),
        ("SCRIPTCACHE_LOG_FORMAT", "JSON", "log_format", "json"),
        ("SCRIPTCACHE_LOG_LEVEL", "debug", "log_level", "DEBUG"),
        ("FLOWER_BASIC_AUTH", "admin:pw", "flower_basic_auth", "admin:pw"),
        ("SCRIPTCACHE_REPAIRS_PER_DAY", "3", "repairs_per_day", 3),
        ("SCRIPTCACHE_REPAIRS_PER_DAY", "0", "repairs_per_day", 0),
        ("SCRIPTCACHE_OPTIONAL_WAIT_S", "0.25", "optional_wait_s", 0.25),
    ],
)
def test_each_variable_is_read_into_its_field(
    variable: str, value: str, field: str, expected: object
) -> None:
    settings = Settings.from_env({variable: value, **KEY})

    assert getattr(settings, field) == expected
    assert getattr(Settings(), field) != expected


def test_a_plain_postgresql_url_gets_the_psycopg_driver() -> None:
    settings = Settings.from_env({"SCRIPTCACHE_DATABASE_URL": "postgresql://u@db:5432/sc", **KEY})

    assert settings.database_url == "postgresql+psycopg://u@db:5432/sc"
    assert not settings.database_is_sqlite


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCRIPTCACHE_QUIET_S", "two"),
        ("SCRIPTCACHE_QUIET_S", "0"),
        ("SCRIPTCACHE_QUIET_S", "-1"),
        ("SCRIPTCACHE_QUIET_S", "nan"),
        ("SCRIPTCACHE_QUIET_S", "inf"),
        ("SCRIPTCACHE_MAX_WAIT_S", "30s"),
        ("SCRIPTCACHE_LEASE_S", "five minutes"),
        ("SCRIPTCACHE_MAX_RETRIES", "2.5"),
        ("SCRIPTCACHE_MAX_RETRIES", "-1"),
        ("SCRIPTCACHE_MAX_EVENT_BYTES", "8MB"),
        ("SCRIPTCACHE_LOG_FORMAT", "xml"),
        ("SCRIPTCACHE_LOG_LEVEL", "LOUD"),
        ("SCRIPTCACHE_REPAIRS_PER_DAY", "ten"),
        ("SCRIPTCACHE_OPTIONAL_WAIT_S", "0"),
    ],
)
def test_a_malformed_value_fails_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


def test_a_non_numeric_quiet_period_names_scriptcache_quiet_s_and_the_value() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"SCRIPTCACHE_QUIET_S": "soon"})

    assert "SCRIPTCACHE_QUIET_S" in str(caught.value)
    assert "soon" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCRIPTCACHE_DATABASE_URL", "mysql://u@db/sc"),
        ("SCRIPTCACHE_DATABASE_URL", "postgres://u@db/sc"),
        ("SCRIPTCACHE_DATABASE_URL", "just-a-path.db"),
        ("SCRIPTCACHE_BROKER_URL", "amqp://guest@rabbit//"),
        ("SCRIPTCACHE_BROKER_URL", "localhost:6379"),
        ("SCRIPTCACHE_STORE_URL", "gs://bucket/prefix"),
        ("SCRIPTCACHE_STORE_URL", "/var/blobs"),
    ],
)
def test_an_unknown_url_scheme_fails_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCRIPTCACHE_DATABASE_URL", f"mysql://app:{SECRET}@db:3306/sc"),
        ("SCRIPTCACHE_BROKER_URL", f"amqp://guest:{SECRET}@rabbit:5672//"),
        ("SCRIPTCACHE_STORE_URL", f"ftp://user:{SECRET}@files/blobs"),
        ("SCRIPTCACHE_BROKER_URL", f"http://:{SECRET}@cache:6379/0"),
        # Raw (not percent-encoded) passwords holding URL delimiters.
        ("SCRIPTCACHE_DATABASE_URL", f"mysql://app:{SECRET}#x@db/sc"),
        ("SCRIPTCACHE_DATABASE_URL", f"mysql://app:{SECRET}/x@db/sc"),
        ("SCRIPTCACHE_DATABASE_URL", f"mysql://app:{SECRET}@x@db/sc"),
        ("SCRIPTCACHE_DATABASE_URL", f"postgresql://app:{SECRET}@[::1/sc"),
    ],
)
def test_a_password_in_a_rejected_url_is_not_echoed(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})

    message = str(caught.value)
    assert variable in message
    assert SECRET not in message


def test_the_settings_object_cannot_be_mutated() -> None:
    settings = Settings.from_env({})

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.quiet_s = 5.0  # type: ignore[misc]
    assert settings.quiet_s == 2.0


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SCRIPTCACHE_LEASE_S": "3600"}, "SCRIPTCACHE_LEASE_S"),  # equal to the visibility
        ({"SCRIPTCACHE_VISIBILITY_TIMEOUT_S": "20"}, "SCRIPTCACHE_LEASE_S"),  # below the lease
        ({"SCRIPTCACHE_TASK_TIME_LIMIT_S": "3600"}, "SCRIPTCACHE_TASK_TIME_LIMIT_S"),
        ({"SCRIPTCACHE_LEASE_S": "2"}, "SCRIPTCACHE_LEASE_S"),  # no room for a heartbeat
    ],
    ids=[
        "lease-equals-visibility",
        "visibility-below-lease",
        "limit-equals-visibility",
        "lease-too-short-to-renew",
    ],
)
def test_the_heartbeat_lease_visibility_and_time_limit_ladder_is_enforced(
    environ: dict[str, str],
    named: str,
) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(environ)


def test_the_lease_may_be_shorter_than_the_time_limit_because_it_is_renewed() -> None:
    settings = Settings.from_env(
        {
            "SCRIPTCACHE_TASK_TIME_LIMIT_S": "120",
            "SCRIPTCACHE_LEASE_S": "30",
            "SCRIPTCACHE_VISIBILITY_TIMEOUT_S": "3600",
        }
    )

    assert (settings.task_time_limit_s, settings.lease_s, settings.heartbeat_s) == (
        120.0,
        30.0,
        10.0,
    )


def test_the_ladder_is_enforced_on_direct_construction_too() -> None:
    with pytest.raises(SettingsError):
        Settings(task_time_limit_s=4000.0)


def test_redis_broker_urls_use_the_transport_that_surfaces_pubsub_resets() -> None:
    from celery import Celery

    from config.celery import celery_config
    from config.redis_transport import Transport

    for url in ("redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6380/0"):
        app = Celery(set_as_current=False)
        app.config_from_object(celery_config(Settings(broker_url=url)))
        with app.connection_for_read() as conn:
            assert conn.get_transport_cls() is Transport
            # Flower picks its broker client by the URL's scheme: it must stay redis(s)://.
            assert conn.as_uri().startswith(url.split(":", 1)[0] + "://")


# --- the seal key (ARCHITECTURE.md §9, worker/secrets/seals.py) --------------------------------


def test_production_without_a_seal_key_refuses_to_start_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="SCRIPTCACHE_SEAL_KEY: required"):
        Settings.from_env({"SCRIPTCACHE_DATABASE_URL": "postgresql://u@db/sc"})


@pytest.mark.parametrize("variable", ["SCRIPTCACHE_SEAL_KEY", "SCRIPTCACHE_SEAL_KEY_PREVIOUS"])
def test_a_seal_key_shorter_than_32_characters_is_refused(variable: str) -> None:
    with pytest.raises(SettingsError, match=f"{variable}: a seal key has at least 32"):
        Settings.from_env({**KEY, variable: "short"})


def test_the_seal_key_and_the_previous_ones_are_read_in_order_and_never_shown() -> None:
    settings = Settings.from_env(
        {"SCRIPTCACHE_SEAL_KEY": "n" * 40, "SCRIPTCACHE_SEAL_KEY_PREVIOUS": f"{'o' * 32}, "}
    )

    assert settings.seal_keys == (b"n" * 40, b"o" * 32)
    assert "nnnn" not in repr(settings) and "oooo" not in repr(settings)


def test_the_embedded_defaults_make_a_key_file_beside_the_database_once(tmp_path: Path) -> None:
    env = {"SCRIPTCACHE_DATABASE_URL": f"sqlite:///{tmp_path}/db/sc.db"}

    first = Settings.from_env(env)
    again = Settings.from_env(env)

    key_file = tmp_path / "db" / "seal.key"
    assert first.seal_keys == again.seal_keys == (key_file.read_text().strip().encode(),)
    assert len(first.seal_keys[0]) == 64
    assert key_file.stat().st_mode & 0o077 == 0  # the owner's only
    assert [p.name for p in key_file.parent.iterdir()] == ["seal.key"]  # nothing left aside


def test_two_settings_built_directly_get_different_random_keys() -> None:
    assert Settings().seal_keys != Settings().seal_keys
