"""Property: a script learned from one run, replayed with other parameters, types exactly the
other values, and no recorded parameter value (3 characters or more) is left in any file.

Recordings type parameter values whole, inside longer text, in selectors, in visited urls,
as list items (a loop) and object fields, in a conditional branch and in a task_v2 child,
all without `parameter_key`. The script runs on the in-memory runtime.
"""

from __future__ import annotations

import ast
import asyncio
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.recordings import Recorder, act, defn, param
from worker.domain.codegen import generate_script
from worker.domain.decision import executed_labels
from worker.runtime import Call, InMemoryRunContext, RecordingPage

SITE = "https://shop.test"
START = "Open the block's start page"
# Recorded values: upper case, digits and '-'; everything else the recording says is lower
# case, so a value never occurs in the surrounding text by accident.
RECORDED = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=3, max_size=10)
# Replayed values: any text at all (quotes, braces, backslashes, newlines...).
REPLAYED = st.text(min_size=1, max_size=12)


@dataclass(frozen=True)
class Values:
    user: str
    search: str
    city: str
    number: int
    items: tuple[str, ...]

    def parameters(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "search": self.search,
            "address": {"city": self.city},
            "quantity": self.number,
            "items": list(self.items),
        }

    def texts(self) -> list[str]:
        return [self.user, self.search, self.city, str(self.number), *self.items]


def values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Values]:
    return st.builds(
        Values,
        text,
        text,
        text,
        st.integers(100, 99_999),
        st.lists(text, min_size=1, max_size=3).map(tuple),
    )


def recording(a: Values) -> Recorder:
    rec = Recorder(
        "prop",
        defn(
            [
                {
                    "label": "form",
                    "block_type": "task",
                    "url": f"{SITE}/form",
                    # A selector binds only the parameters its block's definition mentions.
                    "navigation_goal": "Search for {{ search }}",
                },
                {
                    "label": "each",
                    "block_type": "for_loop",
                    "loop_over": "items",
                    "loop_blocks": [{"label": "item", "block_type": "navigation"}],
                },
                {
                    "label": "route",
                    "block_type": "conditional",
                    "branches": [
                        {
                            "condition": "{{ true }}",
                            "blocks": [{"label": "refund", "block_type": "task"}],
                        },
                        {"condition": None, "blocks": [{"label": "other", "block_type": "task"}]},
                    ],
                },
                {"label": "research", "block_type": "task_v2", "prompt": "find things"},
            ],
            [param(k) for k in ("user", "search", "address", "quantity", "items")],
        ),
        a.parameters(),
    )
    rec.block(
        "form",
        "task",
        [
            act("input_text", "//input[@name='user']", f"type {a.user}", text=a.user),
            act("input_text", "//input[@name='q']", "search", text=f"find {a.search} now"),
            act("click", f"//a[@data-id='{a.search}']", f"open {a.search}"),
            act("select_option", "//select[@name='city']", "city", option=a.city),
            act("input_text", "//input[@name='qty']", "quantity", text=str(a.number)),
            act("goto_url", None, "go", text=f"{SITE}/s?q={a.search}&u={a.user}"),
        ],
        task={},
    )
    for index, item in enumerate(a.items):
        rec.block(
            "item",
            "navigation",
            [
                act("input_text", "//input[@name='item']", "item", text=item),
                act("click", f"//a[text()='{item}']", f"open {item}"),
            ],
            task={},
            parent="wrb_each",
            loop_index=index,
            loop_value=item,
        )
    rec.block("each", "for_loop", block_id="wrb_each")
    rec.block("route", "conditional")
    rec.block(
        "refund",
        "task",
        [
            act("input_text", "//textarea", "why", text=f"{a.user}/{a.search}: {a.city}"),
        ],
        task={},
    )
    rec.block(
        "child",
        "navigation",
        [
            act("upload_file", "//input[@type='file']", "attach", text=f"/tmp/{a.user}.pdf"),
        ],
        task={"url": f"{SITE}/u/{a.user}"},
        parent="wrb_research",
    )
    rec.block("research", "task_v2", block_id="wrb_research")
    return rec.finish()


def expected(b: Values) -> list[Call]:
    calls = [
        Call("goto", (f"{SITE}/form",), START),
        Call("fill", ("//input[@name='user']", b.user), f"type {b.user}"),
        Call("fill", ("//input[@name='q']", f"find {b.search} now"), "search"),
        Call("click", (f"//a[@data-id='{b.search}']",), f"open {b.search}"),
        Call("select_option", ("//select[@name='city']", b.city), "city"),
        Call("fill", ("//input[@name='qty']", str(b.number)), "quantity"),
        Call("goto", (f"{SITE}/s?q={b.search}&u={b.user}",), "go"),
    ]
    for item in b.items:
        calls += [
            Call("fill", ("//input[@name='item']", item), "item"),
            Call("click", (f"//a[text()='{item}']",), f"open {item}"),
        ]
    calls += [
        Call("fill", ("//textarea", f"{b.user}/{b.search}: {b.city}"), "why"),
        Call("goto", (f"{SITE}/u/{b.user}",), START),
        Call("upload_file", ("//input[@type='file']", f"/tmp/{b.user}.pdf"), "attach"),
    ]
    return calls


def distinct(v: Values) -> bool:
    """No recorded value inside another: each occurrence has one meaning."""
    texts = v.texts()
    return len(set(texts)) == len(texts) and not any(
        x != y and x in y for x in texts for y in texts
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(a=values(RECORDED), b=values(REPLAYED))
def test_a_replay_types_the_values_of_its_own_run_never_the_recorded_ones(
    a: Values, b: Values
) -> None:
    assume(distinct(a))
    run = recording(a).run()
    script = generate_script(run, executed_labels(run), {})

    for path, data in script.files.items():
        for constant in constants(data):
            for value in a.texts():
                assert value not in constant, (path, value, constant)

    namespace: dict[str, Any] = {}
    exec(compile(script.files["main.py"], "main.py", "exec"), namespace)
    page = RecordingPage()
    ctx = InMemoryRunContext(page, b.parameters(), branches={"route": 0})
    asyncio.run(namespace["run_workflow"](page, ctx))

    assert [c._replace(args=tuple(_text(x) for x in c.args)) for c in page.calls] == expected(b)


def constants(source: bytes) -> list[str]:
    """Every literal of a file: strings (f-string pieces included) and numbers as text."""
    return [
        str(node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and node.value is not None
    ]


def _text(value: Any) -> Any:
    """What a browser types: the text of a value (numbers are typed as their digits)."""
    return str(value) if isinstance(value, int) else value
