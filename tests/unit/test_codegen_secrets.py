"""Credential values never reach a generated file."""

from __future__ import annotations

from tests.recordings import Recorder, act, defn, param
from worker.domain.codegen import generate_script
from worker.domain.decision import executed_labels
from worker.domain.definition import Definition
from worker.domain.run import ActionRecord, BlockRun, RunRecord, TaskRecord

CANARY = "CANARY-7f3e9c-do-not-leak"


def recorded_login() -> Recorder:
    rec = Recorder(
        "secret",
        defn(
            [
                {"label": "log_in", "block_type": "login", "url": "https://bank.test/login"},
            ],
            [param("user"), param("pin", "credential")],
        ),
        {"user": "ada", "pin": CANARY},
    )
    rec.block(
        "log_in",
        "login",
        [
            act(
                "input_text",
                "//input[@id='user']",
                "Type the user",
                text="ada",
                parameter_key="user",
            ),
            act(
                "input_text", "//input[@id='pin']", "Type the PIN", text=CANARY, parameter_key="pin"
            ),
            act(
                "select_option",
                "//select[@id='pin2']",
                "Pick the PIN",
                option=CANARY,
                parameter_key="pin",
            ),
        ],
        task={"url": "https://bank.test/login"},
    )
    return rec.finish()


def test_a_credential_typed_at_login_appears_in_no_generated_file() -> None:
    run = recorded_login().run()
    script = generate_script(run, executed_labels(run), {})
    assert script.files
    for path, data in script.files.items():
        assert CANARY.encode() not in data, path
    main = script.files["main.py"].decode()
    assert "ctx.credential('pin')" in main and "ctx.param('user')" in main
    assert script.blocks["log_in"].input_fields == ("pin", "user")


def test_the_generator_uses_the_key_even_when_a_producer_sent_the_value_unredacted() -> None:
    definition = Definition.model_validate(recorded_login().events[0]["definition"])
    actions = (
        ActionRecord(
            "a1",
            "input_text",
            "//input[@id='pin']",
            "Type the PIN",
            text=CANARY,
            parameter_key="pin",
        ),
        ActionRecord("a2", "select_option", "//select", "Pick", option=CANARY, parameter_key="pin"),
        ActionRecord(
            "a3", "upload_file", "//input[@type='file']", "Attach", text=CANARY, parameter_key="pin"
        ),
    )
    run = RunRecord(
        "r",
        "w",
        1,
        definition,
        blocks=(
            BlockRun(
                "b1",
                "log_in",
                "login",
                "completed",
                "agent",
                task=TaskRecord("t1"),
                actions=actions,
            ),
        ),
    )
    script = generate_script(run, frozenset({"log_in"}), {})
    assert not any(CANARY.encode() in data for data in script.files.values())
    assert script.files["main.py"].decode().count("ctx.credential('pin')") == 3
