"""deploy/ensure-services.sh (`make services`, which `make test` runs first), in its dry run."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import ROOT

SCRIPT = ROOT / "deploy" / "ensure-services.sh"


def dry_run(**env: str) -> str:
    environ = {**os.environ, "SCRIPTCACHE_TEST_PG_URL": "postgresql://elsewhere/postgres", **env}
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run"], env=environ, capture_output=True,
                          text=True, timeout=30, check=True)
    return done.stdout + done.stderr


def test_a_missing_chromium_is_installed_from_the_debian_package() -> None:
    out = dry_run(SCRIPTCACHE_CHROMIUM_PATH="/nonexistent/chromium")
    assert "Chromium (/nonexistent/chromium) is missing" in out
    assert "would run: apt-get update -q" in out
    assert "would run: env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium" in out


def test_a_present_chromium_installs_nothing() -> None:
    out = dry_run(SCRIPTCACHE_CHROMIUM_PATH="/bin/sh")
    assert "chromium" not in out.lower()
    assert "would run" not in out


def test_a_given_test_database_url_is_left_alone() -> None:
    out = dry_run(SCRIPTCACHE_CHROMIUM_PATH="/bin/sh")
    assert "using SCRIPTCACHE_TEST_PG_URL as given" in out
    assert "pg_ctlcluster" not in out
