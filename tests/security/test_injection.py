"""Code injection: adversarial labels, selectors, intentions, typed text, parameter keys and
schemas through the real worker. The stored scripts compile, call nothing but the runtime API,
and carry every adversarial text as a string constant."""

from __future__ import annotations

import ast

from tests.factory import RunBuilder, definition, task_block
from tests.support.stack import Stack, live_files, live_labels, wait_until

NASTY = [
    "'; import os; os.system('x'); '",
    '"); import os; #',
    "'''",
    '"""',
    "'''\nimport os\n'''",
    '"""; __import__("os").system("x"); """',
    "__import__('os').system('x')",
    "\\",
    "\\'",
    '\\"',
    "ends with a backslash \\",
    "line\nimport os\nos.system('x')",
    "carriage\r\nos.system('x')",
    "sep\u2028import os",
    "para\u2029os.system('x')",
    "nel\x85os.system('x')",
    "\x0bvt\x0cff",
    "tab\there",
    "{{ 7 * 7 }}",
    "${HOME}",
    "f'{__import__(\"os\")}'",
    "`rm -rf /`",
    "\\N{BULLET} \\u2028",
    "# comment",
    "\u202eevil\u202c",
    "ẞ Ω 中文 🙂",
]
PAGE_METHODS = {
    "goto",
    "click",
    "fill",
    "select_option",
    "upload_file",
    "hover",
    "press",
    "scroll",
    "wait",
    "extract",
    "download",
    "solve_captcha",
}
CTX_METHODS = {"param", "credential", "render", "loop", "branch", "run_agent", "run_live"}
IMPORTS = {"typing", "asyncio", "worker.runtime"}


def adversarial_run() -> list[dict]:  # type: ignore[type-arg]
    labels = [f"{text}#{i}" for i, text in enumerate(NASTY[:10])]
    params = [{"key": k, "parameter_type": "workflow"} for k in NASTY[10:16]]
    params.append({"key": NASTY[16], "parameter_type": "credential"})
    blocks = [task_block(label) for label in labels]
    blocks.append(
        task_block(
            NASTY[20] + "_extract",
            "extraction",
            data_extraction_goal=NASTY[21],
            data_schema={NASTY[22]: NASTY[23]},
        )
    )
    builder = RunBuilder(
        "wr_nasty",
        "wf_nasty",
        definition(blocks, parameters=params),
        parameters={p["key"]: "value" for p in params},
    )
    for i, label in enumerate(labels):
        text = NASTY[(i + 5) % len(NASTY)]
        builder.block(
            label,
            actions=[
                {"action_type": "click", "xpath": NASTY[i], "intention": NASTY[-1 - i]},
                {
                    "action_type": "input_text",
                    "xpath": f"//input[@name={NASTY[i]!r}]",
                    "text": text,
                    "intention": NASTY[(i + 3) % len(NASTY)],
                },
                {
                    "action_type": "input_text",
                    "xpath": "//x",
                    "text": "from a parameter",
                    "parameter_key": params[i % len(params)]["key"],
                    "intention": NASTY[i],
                },
                {
                    "action_type": "select_option",
                    "xpath": NASTY[i + 1],
                    "option": NASTY[i + 2],
                    "intention": None,
                },
                {
                    "action_type": "keypress",
                    "xpath": None,
                    "text": NASTY[i + 3],
                    "intention": "key",
                },
                {"action_type": NASTY[i + 4], "xpath": "//unknown", "intention": "unknown type"},
            ],
        )
    block_id = builder.block(
        NASTY[20] + "_extract",
        "extraction",
        actions=[{"action_type": "extract", "xpath": None, "intention": NASTY[24]}],
    )
    for event in builder.events:  # the recorded task's goal and schema are adversarial too
        if event.get("workflow_run_block_id") == block_id:
            event["task"].update(
                data_extraction_goal=NASTY[21],
                extracted_information_schema={
                    NASTY[22]: {"type": NASTY[23], "description": NASTY[25]},
                    "nested": [NASTY[0], {NASTY[1]: NASTY[2]}],
                },
            )
    return builder.finish()


def calls_outside_the_runtime(module: ast.Module) -> list[str]:
    defined = {
        n.name for n in ast.walk(module) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    decorators = {
        id(d)
        for n in ast.walk(module)
        if isinstance(n, ast.AsyncFunctionDef)
        for d in n.decorator_list
    }
    parameters_model = {
        id(n.value)
        for n in module.body
        if isinstance(n, ast.Assign) and [ast.unparse(t) for t in n.targets] == ["Parameters"]
    }
    bad = []
    for node in ast.walk(module):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            bad += [f"import {n}" for n in names if n not in IMPORTS]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            allowed = {"page": PAGE_METHODS, "ctx": CTX_METHODS}.get(func.value.id, set())
            if func.attr in allowed:
                continue
        elif isinstance(func, ast.Name):
            if func.id in defined or (func.id == "block" and id(node) in decorators):
                continue
            if func.id == "TypedDict" and id(node) in parameters_model:
                continue  # Parameters = TypedDict('Parameters', {...}, total=False)
        bad.append(ast.unparse(node)[:120])
    return bad


def test_adversarial_text_never_becomes_code(sec_stack: Stack) -> None:
    events = adversarial_run()
    sec_stack.start_worker()
    sec_stack.publish(events)
    labels = {e["label"] for e in events if e["type"] == "block_completed"}
    wait_until(
        lambda: live_labels(sec_stack, "wf_nasty") == labels,
        60,
        "the adversarial run to be generated",
        sec_stack,
    )
    files = live_files(sec_stack, "wf_nasty")
    assert len(files) == len(labels) + 1
    constants: set[str] = set()
    for path, data in files.items():
        text = data.decode("utf-8")
        compile(text, path, "exec", dont_inherit=True)
        module = ast.parse(text)
        assert calls_outside_the_runtime(module) == [], path
        constants |= {
            n.value
            for n in ast.walk(module)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
    recorded = {
        a["xpath"]
        for e in events
        for a in e.get("actions") or []
        if a["action_type"] in ("click", "select_option")
    }
    recorded |= labels | {NASTY[21], NASTY[22], NASTY[23], NASTY[25]}
    recorded |= {p["key"] for p in events[0]["definition"]["parameters"]}
    missing = sorted(recorded - constants)
    assert missing == [], f"adversarial texts that did not arrive as string constants: {missing}"


def test_the_checker_itself_flags_calls_outside_the_runtime() -> None:
    module = ast.parse(
        "import os\nfrom worker.runtime import block\n"
        "@block('x')\nasync def f(page, ctx):\n    await page.click('a', intention=None)\n"
        "    __import__('os').system('x')\n    os.system('y')\n    eval('1')\n"
    )
    assert sorted(calls_outside_the_runtime(module)) == sorted(
        [
            "import os",
            "__import__('os').system('x')",
            "__import__('os')",
            "os.system('y')",
            "eval('1')",
        ]
    )
