"""`scriptcache demo --local` as a user runs it: a subprocess on the embedded defaults (SQLite,
a blob directory, no services). With Chromium it shows the closed loop on the loopback
portal with the stand-in agent and leaves the repaired revision live; without Chromium or
Playwright it says so and still shows the sample workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.cli import DemoRun
from tests.support.services import ROOT
from worker.adapters.sql import models as m
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.demo.loop import WPID
from worker.demo.portal.site import ACCOUNTS

SAMPLE_REPORT = "version 2 (live): 4 cached blocks, from run wr_portal_2"
# Runs the command with Playwright made unimportable, as in an install without the extra.
WITHOUT_PLAYWRIGHT = (
    "import sys; sys.modules['playwright'] = None; from worker.cli.main import main; main()"
)


def demo(tmp_path: Path, *, prefix: tuple[str, ...] = (), **env: str) -> str:
    environ = {
        **os.environ,
        "SCRIPTCACHE_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "SCRIPTCACHE_STORE_URL": f"file://{tmp_path}/blobs",
        "SCRIPTCACHE_LOG_LEVEL": "ERROR",
        **env,
    }
    command = prefix or (str(Path(sys.executable).with_name("scriptcache")),)
    for args in (["migrate"], ["demo", "--local"]):
        done = subprocess.run(
            [*command, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def revisions(tmp_path: Path, wpid: str) -> list[tuple[int, bool, str, bool]]:
    """(version, repair, source run, live) of the workflow's script revisions."""
    engine = make_engine(f"sqlite:///{tmp_path}/demo.db")
    try:
        with make_sessionmaker(engine)() as session:
            script = session.scalar(select(m.Script).where(m.Script.workflow_permanent_id == wpid))
            if script is None:
                return []
            rows = session.scalars(
                select(m.ScriptRevision)
                .where(m.ScriptRevision.script_id == script.script_id)
                .order_by(m.ScriptRevision.version)
            ).all()
            return [
                (
                    r.version,
                    r.repair,
                    r.source_workflow_run_id,
                    r.script_revision_id == script.current_revision_id,
                )
                for r in rows
            ]
    finally:
        engine.dispose()


@pytest.mark.xdist_group("demo")
def test_the_demo_shows_the_closed_loop_and_leaves_the_repaired_revision_live(
    demo_local: DemoRun,
) -> None:
    output, tmp_path = demo_local.output, demo_local.folder

    assert SAMPLE_REPORT in output
    loop = output[output.index("closed loop:") :]
    steps = [line.strip() for line in loop.splitlines()]
    assert steps[2:5] == [
        "1. the agent runs it, nothing cached: 8 agent calls, one per block",
        "(sign_in, open_order x3, read_order x3, request_refund)",
        "its 13 events → revision 1 (live): 3 cached blocks",
    ]
    assert "2. replay of revision 1 from code: 0 fallbacks, 0 agent calls" in steps
    at = steps.index(
        "replay of revision 1: 8 blocks relocated (their elements moved and were found again"
    )
    assert steps[at + 1 : at + 5] == [
        "by the matcher, without the agent: sign_in, open_order x3, read_order x3, request_refund)",
        "0 agent calls",
        "the same form posts and order views as the agent's run",
        "its 13 events → revision 2 (a repair, live): 3 cached blocks",
    ]
    assert steps[at + 5 : at + 7] == [
        "4. replay of revision 2 from code: 0 fallbacks, 0 agent calls",
        "the same form posts and order views as the agent's run",
    ]
    # Renamed buttons are found again by their ids and forms (issue 27), not by the agent.
    at = steps.index(
        "replay of revision 2: 2 blocks relocated (their elements moved and were found again"
    )
    assert steps[at + 1 : at + 7] == [
        "by the matcher, without the agent: sign_in, request_refund)",
        "0 agent calls",
        "the same form posts and order views as the agent's run",
        "its 13 events → revision 3 (a repair, live): 3 cached blocks",
        "6. replay of revision 3 from code: 0 fallbacks, 0 agent calls",
        "the same form posts and order views as the agent's run",
    ]
    assert f"scriptcache script diff {WPID} 2 3" in loop
    assert "-        '/html/body/div[2]/main/form/button'," in loop
    assert "+        '/html/body/div[2]/main/form/div/button'," in loop
    assert "+        expect=('button', 'Submit request', {" in loop
    assert "NOT" not in loop

    assert revisions(tmp_path, WPID) == [
        (1, False, "wr_demo_1_agent", False),
        (2, True, "wr_demo_1_v2", False),
        (3, True, "wr_demo_1_v3", True),
    ]
    secret = ACCOUNTS["alice@shop.test"].password
    blobs = b"".join(p.read_bytes() for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    assert secret not in output and secret.encode() not in blobs


@pytest.mark.parametrize("missing", ["chromium", "playwright"])
def test_without_a_browser_the_demo_says_so_and_still_shows_the_sample(
    missing: str, tmp_path: Path
) -> None:
    if missing == "chromium":
        output = demo(tmp_path, SCRIPTCACHE_CHROMIUM_PATH=str(tmp_path / "no-chromium"))
        expected = f"not shown: no Chromium executable at {tmp_path / 'no-chromium'}"
    else:
        output = demo(tmp_path, prefix=(sys.executable, "-c", WITHOUT_PLAYWRIGHT))
        expected = "not shown: it needs Playwright: pip install 'scriptcache[browser]'"

    assert SAMPLE_REPORT in output
    assert expected in output
    assert revisions(tmp_path, WPID) == []
    assert len(revisions(tmp_path, "wpid_order_portal")) == 2
