"""Binding by value (ARCHITECTURE.md §9): which expression a recorded value becomes."""

from __future__ import annotations

import ast
from types import SimpleNamespace
from typing import Any

import pytest

from tests.recordings import Recorder, act, defn, param
from worker.domain.codegen import generate_script
from worker.domain.codegen.values import RunValues, mentions
from worker.domain.decision import executed_labels
from worker.domain.definition import Block


class Ctx:
    """Just enough of a RunContext to evaluate a bound expression."""

    def __init__(
        self,
        parameters: dict[str, Any],
        current_value: Any = None,
        outputs: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
    ) -> None:
        self._parameters, self._credentials = parameters, credentials or {}
        self.current_value, self.outputs = current_value, outputs or {}

    def param(self, key: str) -> Any:
        return self._parameters[key]

    def credential(self, key: str) -> Any:
        return self._credentials[key]


def bind(
    raw: str,
    parameters: dict[str, Any],
    *,
    loop: Any = None,
    in_loop: bool = False,
    mentioned: frozenset[str] = frozenset(),
    outputs: dict[str, Any] | None = None,
    credentials: frozenset[str] = frozenset(),
) -> str:
    binder = RunValues(parameters, credentials, credentials).binder(
        loop, in_loop, mentioned, outputs or {}
    )
    return ast.unparse(binder.bind(raw).expr)


def evaluate(code: str, ctx: Ctx) -> Any:
    return eval(compile(code, "<bound>", "eval"), {"ctx": ctx})


@pytest.mark.parametrize(
    ("raw", "parameters", "mentioned", "expected"),
    [
        ("ada@x.test", {"user": "ada@x.test"}, (), "ctx.param('user')"),
        ("Dear ada@x.test,", {"user": "ada@x.test"}, (), "f'Dear {ctx.param('user')},'"),
        ("fragile", {"tags": ["urgent", "fragile"]}, (), "ctx.param('tags')[1]"),
        ("Paris", {"addr": {"city": "Paris", "zip": "75001"}}, (), "ctx.param('addr')['city']"),
        ("1234", {"pin_hint": 1234}, (), "f\"{ctx.param('pin_hint')}\""),
        ("true", {"gift": True}, ("gift",), "'true' if ctx.param('gift') else 'false'"),
        ("US", {"country": "US"}, (), "'US'"),  # short and not mentioned: literal
        ("US", {"country": "US"}, ("country",), "ctx.param('country')"),
        ("in US now", {"country": "US"}, ("country",), "f\"in {ctx.param('country')} now\""),
        ("BUSY", {"country": "US"}, ("country",), "'BUSY'"),  # short: whole words only
        ("3", {"n": 3}, (), "'3'"),
        ("nothing", {"user": "ada"}, (), "'nothing'"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_a_recorded_value_binds_by_the_contracts_rules(
    raw: str, parameters: dict[str, Any], mentioned: tuple[str, ...], expected: str
) -> None:
    code = bind(raw, parameters, mentioned=frozenset(mentioned))
    assert code.replace('"', "'") == expected.replace('"', "'")
    assert str(evaluate(code, Ctx(parameters))) == raw


def test_the_loop_value_goes_before_a_parameter_and_a_parameter_before_an_output() -> None:
    parameters = {"first": "A-1001"}
    outputs = {"read": {"id": "A-1001"}}
    assert (
        bind("A-1001", parameters, loop="A-1001", in_loop=True, outputs=outputs)
        == "ctx.current_value"
    )
    assert bind("A-1001", parameters, outputs=outputs) == "ctx.param('first')"
    assert bind("A-1001", {}, outputs=outputs) == "ctx.outputs['read']['id']"


def test_ties_go_to_the_mentioned_parameter_then_to_the_first_key_in_sorted_order() -> None:
    parameters = {"zeta": "ops@x.test", "alpha": "ops@x.test", "mid": "ops@x.test"}
    assert bind("ops@x.test", parameters) == "ctx.param('alpha')"
    assert bind("ops@x.test", parameters, mentioned=frozenset({"mid"})) == "ctx.param('mid')"


def test_inside_a_text_the_longer_value_binds_first() -> None:
    parameters = {"first": "Ada", "full": "Ada Lovelace"}
    code = bind("Hello Ada Lovelace, Ada", parameters)
    assert evaluate(code, Ctx({"first": "Bo", "full": "Bo Li"})) == "Hello Bo Li, Bo"


def test_a_credential_value_binds_to_ctx_credential_and_never_to_a_param() -> None:
    code = bind("user:s3cr3t-pw@host", {"pw": "s3cr3t-pw"}, credentials=frozenset({"pw"}))
    assert "ctx.credential('pw')" in code and "s3cr3t" not in code


def test_a_key_the_f_string_cannot_hold_gives_a_concatenation_that_still_evaluates() -> None:
    key = 'it\'s "odd"'
    code = bind("'''x-ORD-1-\"\"\"", {key: "ORD-1"})
    assert evaluate(code, Ctx({key: "ORD-22"})) == "'''x-ORD-22-\"\"\""


def test_recorded_braces_and_quotes_stay_literal_text_around_the_reference() -> None:
    raw = "{{ user }} {0} '\" ada@x.test \\n"
    code = bind(raw, {"user": "ada@x.test"})
    assert evaluate(code, Ctx({"user": "{bo}"})) == "{{ user }} {0} '\" {bo} \\n"


def test_mentions_are_the_names_a_blocks_own_templates_use() -> None:
    block = Block.model_validate(
        {
            "label": "b",
            "block_type": "task",
            "url": "https://x/{{ host | lower }}/{{ a.output }}",
            "navigation_goal": "Open {{ current_value }} for {{ user }}",
            "prompt": "{{ broken",
        }
    )
    # A template Jinja cannot parse still mentions what its `{{ name` says.
    assert mentions([block, None]) == {"host", "a", "current_value", "user", "broken"}


def test_every_value_a_block_enters_is_listed_with_its_expression_literal_or_bound() -> None:
    rec = Recorder(
        "inputs",
        defn(
            [
                {"label": "form", "block_type": "task", "url": "https://x.test"},
            ],
            [param("user"), param("otp", "totp"), param("pw", "credential")],
        ),
        {"user": "ada@x.test", "otp": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "pw": "secret-pw"},
    )
    rec.block(
        "form",
        "task",
        [
            act("input_text", "//u", "User", text="ada@x.test"),
            act("input_text", "//c", "Code", text="123456", parameter_key="otp"),
            act("input_text", "//p", "Password", text="secret-pw", parameter_key="pw"),
            act("select_option", "//s", "Size", option="XL"),
            act("keypress", None, "Submit", text="Enter"),
        ],
        task={},
    )
    run = rec.finish().run()
    entry = generate_script(run, executed_labels(run), {}).blocks["form"]
    assert entry.input_fields == ("otp", "pw", "user")
    assert [(i.action, i.expression, i.literal) for i in entry.inputs] == [
        ("fill", "ctx.param('user')", False),
        ("fill", "ctx.totp('otp')", False),
        ("fill", "ctx.credential('pw')", False),
        ("select_option", "'XL'", True),
        ("press", "'Enter'", True),
    ]


def test_an_output_is_only_bound_when_its_block_completed_earlier() -> None:
    rec = Recorder(
        "order",
        defn(
            [
                {"label": "first", "block_type": "task"},
                {"label": "read", "block_type": "extraction"},
            ]
        ),
    )
    rec.block("first", "task", [act("input_text", "//a", "Type", text="T-12345")], task={})
    rec.block(
        "read", "extraction", [act("extract", None, "Read")], task={}, output={"ticket": "T-12345"}
    )
    rec.block("later", "task", [], task={})
    run = rec.finish().run()
    main = generate_script(run, frozenset({"first", "read"}), {}).files["main.py"].decode()
    assert "'T-12345'" in main and "ctx.outputs['read'] = await page.extract(" in main


def test_an_intention_follows_only_the_values_its_action_typed() -> None:
    rec = Recorder(
        "prose", defn([{"label": "b", "block_type": "task"}], [param("mode")]), {"mode": "refund"}
    )
    rec.block(
        "b",
        "task",
        [
            act("click", "//button", "Choose the refund reason"),
            act("input_text", "//i", "Type refund", text="refund"),
        ],
        task={},
    )
    run = rec.finish().run()
    main = generate_script(run, frozenset({"b"}), {}).files["main.py"].decode()
    assert "intention='Choose the refund reason'" in main
    assert "intention=f\"Type {ctx.param('mode')}\"" in main
    ctx = SimpleNamespace(param=lambda key: "support")
    assert evaluate("f\"Type {ctx.param('mode')}\"", ctx) == "Type support"  # type: ignore[arg-type]


def test_a_totp_secret_is_redacted_like_a_credential_and_its_code_typed_by_ctx_totp() -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ"
    rec = Recorder(
        "otp",
        defn([{"label": "b", "block_type": "login"}], [param("otp", "totp")]),
        {"otp": secret},
    )
    rec.block(
        "b",
        "login",
        [act("input_text", "//c", "Code", text="123456", parameter_key="otp")],
        task={},
    )
    run = rec.finish().run()
    assert run.parameters == {}
    assert run.definition.credential_keys() == run.definition.totp_keys() == {"otp"}
    script = generate_script(run, frozenset({"b"}), {})
    assert not any(secret.encode() in data or b"123456" in data for data in script.files.values())
    assert "ctx.totp('otp')" in script.files["main.py"].decode()


def test_an_extraction_stored_into_ctx_outputs_is_laid_out_within_the_line_limit() -> None:
    rec = Recorder("long", defn([{"label": "read_the_opening_hours", "block_type": "extraction"}]))
    rec.block(
        "read_the_opening_hours",
        "extraction",
        [act("extract", None, "Read the opening hours")],
        task={
            "data_extraction_goal": "Opening hours",
            "extracted_information_schema": {"type": "string"},
        },
    )
    run = rec.finish().run()
    main = generate_script(run, frozenset({"read_the_opening_hours"}), {}).files["main.py"]
    lines = main.decode().splitlines()
    assert max(len(line) for line in lines) <= 99
    assert "    ctx.outputs['read_the_opening_hours'] = await page.extract(" in lines


@pytest.mark.parametrize(
    ("typed", "intention", "xpath", "goal", "expected"),
    [
        # Two totp parameters: the one the block's definition mentions, else the first in order.
        ("492039", "Type the one-time code", "//input[@name='c']", None, "ctx.totp('backup')"),
        ("492039", "Type it", "//input[@name='otp']", None, "ctx.totp('backup')"),
        ("492039", "Type it", "//input[@name='x']", "Use {{ otp }}", "ctx.totp('otp')"),
        ("492039", "Type the order number", "//input[@name='order']", None, "'492039'"),
        ("49203", "Type the code", "//input[@name='c']", None, "'49203'"),
        ("4920391x", "Type the code", "//input[@name='c']", None, "'4920391x'"),
    ],
)
def test_a_one_time_code_typed_without_parameter_key_becomes_ctx_totp(
    typed: str, intention: str, xpath: str, goal: str | None, expected: str
) -> None:
    rec = Recorder(
        "otp_by_value",
        defn(
            [
                {"label": "b", "block_type": "login", "navigation_goal": goal},
            ],
            [param("otp", "totp"), param("backup", "totp")],
        ),
        {"otp": "JBSWY3DPEHPK3PXPJBSW"},
    )
    rec.block("b", "login", [act("input_text", xpath, intention, text=typed)], task={})
    run = rec.finish().run()
    script = generate_script(run, frozenset({"b"}), {})
    [entered] = script.blocks["b"].inputs
    assert entered.expression.replace('"', "'") == expected


def test_a_recorded_child_url_is_bound_by_value_and_never_rendered_as_a_template() -> None:
    rec = Recorder(
        "v2url",
        defn([{"label": "v2", "block_type": "task_v2", "prompt": "go"}], [param("city")]),
        {"city": "Lisbon"},
    )
    rec.block(
        "child",
        "navigation",
        [],
        task={"url": "https://fly.test/{{ password }}?to=Lisbon"},
        parent="wrb_v2",
    )
    rec.block("v2", "task_v2", block_id="wrb_v2")
    run = rec.finish().run()
    main = generate_script(run, frozenset({"v2"}), {}).files["main.py"].decode()
    assert "ctx.render" not in main
    url = "f\"https://fly.test/{{{{ password }}}}?to={ctx.param('city')}\""
    assert url in main
    assert evaluate(url, Ctx({"city": "Porto"})) == "https://fly.test/{{ password }}?to=Porto"
