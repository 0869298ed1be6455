"""generate_script: files, rows, hashes, skips and the validation gate."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from tests.recordings import Recorder, act, defn, param, runs_from_jsonl, sample_runs
from worker.domain.codegen import CarriedBlock, CodegenError, block_body, generate_script
from worker.domain.codegen.actions import seconds
from worker.domain.decision import executed_labels
from worker.domain.definition import START_BLOCK
from worker.domain.run import RunRecord

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def golden_run(name: str) -> RunRecord:
    return runs_from_jsonl(GOLDEN / f"{name}.jsonl")[0]


def test_every_cached_label_gets_a_block_file_repeated_byte_for_byte_in_main_py() -> None:
    run = sample_runs()[0]
    script = generate_script(run, executed_labels(run), {})
    assert list(script.files) == sorted(script.files)
    main = script.files["main.py"]
    for label, row in script.blocks.items():
        if label == START_BLOCK:
            assert row.run_signature is None and row.path is None
            assert row.definition_sha256 is None
            continue
        block = run.definition.block(label)
        assert block is not None and row.definition_sha256 == block.sha256()
        code = script.files[row.path or ""]
        assert row.code_sha256 == hashlib.sha256(code).hexdigest()
        assert block_body(code.decode()).encode() in main
        assert code.startswith(b"from worker.runtime import Page, RunContext, block\n")


def test_the_same_actions_give_the_same_code_hash_in_another_run() -> None:
    one, two = sample_runs()
    first = generate_script(one, frozenset({"sign_in"}), {})
    second = generate_script(two, frozenset({"sign_in"}), {})
    assert first.blocks["sign_in"].code_sha256 == second.blocks["sign_in"].code_sha256
    assert first.blocks["sign_in"].source_workflow_run_block_id == "wrb_wr_portal_1_002"
    assert first.content_sha256 == second.content_sha256  # same files, other run ids


def test_content_hash_changes_with_any_file() -> None:
    run = sample_runs()[0]
    all_labels = generate_script(run, executed_labels(run), {})
    fewer = generate_script(run, frozenset({"sign_in"}), {})
    assert all_labels.content_sha256 != fewer.content_sha256


def test_skipped_actions_are_counted_by_kind() -> None:
    extraction = golden_run("extraction_schema")
    assert generate_script(extraction, executed_labels(extraction), {}).skipped == {
        "unknown_action:drag_and_drop": 1
    }
    mixed = golden_run("mixed_live")
    assert generate_script(mixed, executed_labels(mixed), {}).skipped == {
        "dropped:null_action": 1,
        "dropped:terminate": 1,
    }
    v2 = golden_run("task_v2_children")
    assert generate_script(v2, executed_labels(v2), {}).skipped == {"task_v2_child:code": 1}


def test_parameters_use_the_functional_typeddict_when_a_key_is_not_a_name() -> None:
    rec = Recorder(
        "p", defn([{"label": "t", "block_type": "task"}], [param("first-name"), param("class")])
    )
    rec.block("t", "task", [act("click", "//a", "Go")], task={})
    main = generate_script(rec.finish().run(), frozenset({"t"}), {}).files["main.py"].decode()
    assert (
        "Parameters = TypedDict('Parameters', {'first-name': Any, 'class': Any}, total=False)"
    ) in main


def test_a_carried_block_that_does_not_compile_is_never_returned() -> None:
    run = sample_runs()[0]
    first = generate_script(run, frozenset({"sign_in"}), {})
    broken = "from worker.runtime import Page, RunContext, block\n\n\nasync def sign_in(:\n"
    entry = first.blocks["sign_in"].as_entry()
    entry = type(entry)(
        **{**vars(entry), "code_sha256": hashlib.sha256(broken.encode()).hexdigest()}
    )
    with pytest.raises(CodegenError):
        generate_script(run, frozenset(), {"sign_in": CarriedBlock(entry, broken)})


def test_carried_code_must_match_its_recorded_hash() -> None:
    run = sample_runs()[0]
    first = generate_script(run, frozenset({"sign_in"}), {})
    tampered = CarriedBlock(first.blocks["sign_in"].as_entry(), "x = 1\n")
    with pytest.raises(CodegenError, match="code_sha256"):
        generate_script(run, frozenset(), {"sign_in": tampered})


def test_labels_to_generate_must_be_cacheable_and_recorded() -> None:
    run = sample_runs()[0]
    with pytest.raises(ValueError, match="not cacheable"):
        generate_script(run, frozenset({"route"}), {})
    with pytest.raises(ValueError, match="no recorded run"):
        generate_script(run, frozenset({"contact_support"}), {})


def test_scripts_import_only_the_runtime_and_typing() -> None:
    for path in sorted(GOLDEN.glob("*.jsonl")):
        run = golden_run(path.stem)
        for data in generate_script(run, executed_labels(run), {}).files.values():
            for node in ast.walk(ast.parse(data)):
                if isinstance(node, ast.ImportFrom):
                    assert node.module in ("typing", "worker.runtime")
                assert not isinstance(node, ast.Import)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", 2),
        ("1.5", 1.5),
        ("0", 0),
        (None, None),
        ("soon", None),
        ("-1", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_wait_seconds_come_from_the_recorded_text_when_it_is_a_number(
    text: str | None, expected: float | None
) -> None:
    assert seconds(text) == expected


def test_the_piecewise_gate_refuses_a_broken_piece_and_a_name_defined_twice() -> None:
    import pytest as _pytest

    from worker.domain.codegen import CodegenError
    from worker.domain.codegen.module import MAIN_HEADER, validate_pieces

    fn = "async def step(page, ctx) -> None:\n    await page.click('x', intention=None)\n"
    validate_pieces([MAIN_HEADER, fn], {})
    with _pytest.raises(CodegenError, match="does not compile"):
        validate_pieces([MAIN_HEADER, "async def step(page, ctx) -> None:\n"], {})
    with _pytest.raises(CodegenError, match="defines 'step' twice"):
        validate_pieces([MAIN_HEADER, fn, fn], {})
