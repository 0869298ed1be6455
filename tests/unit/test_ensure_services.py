"""deploy/ensure-services.sh (`make services`, which `make test` runs first), in its dry run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.services import ROOT

SCRIPT = ROOT / "deploy" / "ensure-services.sh"


def dry_run(**env: str) -> str:
    environ = {**os.environ, "SCRIPTCACHE_TEST_PG_URL": "postgresql://elsewhere/postgres", **env}
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout + done.stderr


def test_a_missing_chromium_is_installed_from_the_debian_package() -> None:
    out = dry_run(SCRIPTCACHE_CHROMIUM_PATH="/nonexistent/chromium")
    assert "Chromium (/nonexistent/chromium) is missing" in out
    assert "would run: apt-get update -q" in out
    assert "would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium" in out


def test_without_a_configured_path_both_debian_browsers_are_installed(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "SCRIPTCACHE_CHROMIUM_PATH"}

    def dry_run_in_this_folder() -> str:
        done = subprocess.run(
            ["bash", str(SCRIPT), "--dry-run"],
            env={
                **environ,
                "SCRIPTCACHE_TEST_PG_URL": "postgresql://elsewhere/postgres",
                "SCRIPTCACHE_SERVICES_DEBIAN_BIN": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    out = dry_run_in_this_folder()
    assert f"Chromium's headless shell ({tmp_path}/chromium-headless-shell) is missing" in out
    assert "apt-get install -y -q chromium-headless-shell" in out
    assert f"Chromium ({tmp_path}/chromium) is missing" in out
    assert "apt-get install -y -q chromium\n" in out
    for name in ("chromium", "chromium-headless-shell"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    assert "would run" not in dry_run_in_this_folder()


def test_a_present_chromium_installs_nothing() -> None:
    out = dry_run(SCRIPTCACHE_CHROMIUM_PATH="/bin/sh")
    assert "chromium" not in out.lower()
    assert "would run" not in out


def test_a_given_test_database_url_is_left_alone() -> None:
    out = dry_run(SCRIPTCACHE_CHROMIUM_PATH="/bin/sh")
    assert "using SCRIPTCACHE_TEST_PG_URL as given" in out
    assert "pg_ctlcluster" not in out


def stand_in_postgres_tools(tmp_path: Path, clusters: str) -> dict[str, str]:
    """PATH with a `pg_isready` that finds nothing and a `pg_lsclusters` that lists
    `clusters`: the machine as it is when PostgreSQL is down (or missing)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("pg_isready", "exit 2"), ("pg_lsclusters", f"printf '{clusters}'")):
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\n{body}\n")
        tool.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SCRIPTCACHE_CHROMIUM_PATH": "/bin/sh"}


def dry_run_without_test_url(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "SCRIPTCACHE_TEST_PG_URL"}
    return subprocess.run(
        ["bash", str(SCRIPT), "--dry-run"],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_cluster_that_is_down_is_started(tmp_path: Path) -> None:
    env = stand_in_postgres_tools(tmp_path, "15 main 5432 down postgres /var/lib/x /var/log/x\\n")
    done = dry_run_without_test_url(env)
    assert done.returncode == 0, done.stderr
    assert "would run: pg_ctlcluster --skip-systemctl-redirect 15 main start" in done.stdout


def test_no_cluster_for_the_port_fails_and_says_what_to_install(tmp_path: Path) -> None:
    env = stand_in_postgres_tools(tmp_path, "15 main 5433 down postgres /var/lib/x /var/log/x\\n")
    done = dry_run_without_test_url(env)
    assert done.returncode == 1
    assert "apt-get install postgresql" in done.stderr
    assert "SCRIPTCACHE_TEST_PG_URL" in done.stderr
