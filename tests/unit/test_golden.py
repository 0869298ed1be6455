"""Golden files: each recording's main.py, pinned byte for byte."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from tests.recordings import runs_from_jsonl
from worker.domain.codegen import GeneratedScript, generate_script
from worker.domain.decision import executed_labels
from worker.domain.run import RunRecord

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SAMPLE = ROOT / "worker" / "samples" / "order-portal.jsonl"
REFRESH = "SCRIPTCACHE_UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/unit/test_golden.py"
RECORDINGS = sorted(GOLDEN.glob("*.jsonl"))


def first_run(path: Path) -> RunRecord:
    return runs_from_jsonl(path)[0]


def generate(run: RunRecord) -> GeneratedScript:
    return generate_script(run, executed_labels(run), {})


def check_golden(name: str, actual: bytes) -> None:
    expected_path = GOLDEN / f"{name}.main.py"
    if os.environ.get("SCRIPTCACHE_UPDATE_GOLDENS") == "1":
        expected_path.write_bytes(actual)
        return
    expected = expected_path.read_bytes() if expected_path.exists() else b""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.decode("utf-8").splitlines(keepends=True),
                actual.decode("utf-8").splitlines(keepends=True),
                fromfile=f"tests/golden/{name}.main.py (expected)",
                tofile="generated",
            )
        )
        pytest.fail(
            f"golden {name}.main.py is stale:\n{diff}\nrefresh with:\n  {REFRESH}", pytrace=False
        )


def test_there_are_at_least_eight_golden_recordings() -> None:
    assert len(RECORDINGS) >= 8


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_generated_main_py_matches_its_golden_file(path: Path) -> None:
    check_golden(path.stem, generate(first_run(path)).files["main.py"])


def test_the_sample_order_portal_run_matches_its_golden_file() -> None:
    check_golden("order_portal", generate(first_run(SAMPLE)).files["main.py"])


@pytest.mark.parametrize("path", [*RECORDINGS, SAMPLE], ids=lambda p: p.stem)
def test_the_same_recording_twice_gives_identical_files(path: Path) -> None:
    one, two = generate(first_run(path)), generate(runs_from_jsonl(path)[0])
    assert one.files == two.files
    assert one.content_sha256 == two.content_sha256
    assert one.blocks == two.blocks


def test_a_stale_golden_fails_with_a_diff_and_the_refresh_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SCRIPTCACHE_UPDATE_GOLDENS", raising=False)
    monkeypatch.setattr(f"{__name__}.GOLDEN", tmp_path)
    (tmp_path / "x.main.py").write_bytes(b"print('old')\n")
    with pytest.raises(pytest.fail.Exception) as failure:
        check_golden("x", b"print('new')\n")
    message = str(failure.value)
    assert "-print('old')" in message and "+print('new')" in message
    assert REFRESH in message
