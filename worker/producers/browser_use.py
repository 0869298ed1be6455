"""A browser-use agent run as a definition and the events of the producer contract (pure).

browser-use (PyPI `browser-use`) saves an agent's run as its history
(`AgentHistoryList.save_to_file`, or `agent.history.model_dump()`): per step, the model's
output (`next_goal`, `memory`, the actions it chose, each `{name: params}`), one result per
action performed (`error`, `extracted_content`, `is_done`, `success`), and the browser's
state before the step (`url`, `title`, and per action the element it designated:
`interacted_element`, with its tag, attributes, xpath and accessible name).

One agent run is one task-like block (label `task` unless given): the task is what a
workflow asks of browser-use, and what its agent can be asked again when the cached code
fails (worker/browser/browser_use_agent.py). Several runs that follow each other in one
browser session are several blocks, in order. The definition's goal and url are the task's
text and first url with the run's parameter values written as `{{ key }}`, so runs with
other values share one definition; the keys of browser-use's `sensitive_data` are its
credential parameters. Nothing here imports browser_use.

The mapping (browser-use action → event action):

| browser-use | action_type | xpath, element | text / option |
| --- | --- | --- | --- |
| navigate, go_to_url | goto_url | — | the url |
| click, click_element_by_index | click | the element's | — |
| input, input_text | input_text | the element's | the text; `<secret>k</secret>` → parameter_key k |
| select_dropdown, select_dropdown_option | select_option | the element's | option: the text |
| upload_file | upload_file | the element's | the path |
| send_keys | keypress | — | the keys |
| wait | wait | — | the seconds |
| extract, extract_structured_data | extract | — | intention: the query |
| done | complete | — | the final text |
| scroll without an element | dropped (the runtime scrolls an element into view itself) |
| anything else (search, go_back, switch, evaluate, files, ...) | its own name: recorded, not generated |
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from worker.domain.codegen.values import PARAMETER, RunValues
from worker.secrets.redaction import redact_raw
from worker.secrets.seals import REDACTED, SealKey, Secrets

BLOCK_TYPE = "task"
DEFAULT_LABEL = "task"
ACTION_TYPES = {
    "navigate": "goto_url",
    "go_to_url": "goto_url",
    "click": "click",
    "click_element_by_index": "click",
    "input": "input_text",
    "input_text": "input_text",
    "select_dropdown": "select_option",
    "select_dropdown_option": "select_option",
    "upload_file": "upload_file",
    "send_keys": "keypress",
    "scroll": "scroll",
    "wait": "wait",
    "extract": "extract",
    "extract_structured_data": "extract",
    "done": "complete",
}
_SECRET = re.compile(r"<secret>(.+?)</secret>")
_RESULT = re.compile(r"<result>\s*(.*?)\s*</result>", re.S)
_USER_REQUEST = re.compile(r"<user_request>\s*(.*?)\s*</user_request>", re.S)
# DESCRIBE_JS's attributes (worker/runtime/identity.py) that browser-use records as they are.
_ATTRIBUTES = {
    "id": "id",
    "name": "name",
    "role": "role",
    "aria-label": "aria_label",
    "placeholder": "placeholder",
    "title": "title",
    "alt": "alt",
}
_FIELDS = ("input", "select", "textarea")


@dataclass(frozen=True)
class TaskRun:
    """One browser-use Agent run: its history (the saved JSON, `{"history": [...]}`), the task
    it was given (its history does not hold it) and the block's label."""

    history: Mapping[str, Any]
    task: str | None = None
    label: str = DEFAULT_LABEL


@dataclass(frozen=True)
class Imported:
    """The workflow definition and the run's events (run_started, one block_completed per
    task, run_finished), ready for `scriptcache publish` or `ingest`."""

    definition: dict[str, Any]
    events: list[dict[str, Any]]


def from_agent(
    agent: Any,
    *,
    workflow_permanent_id: str,
    parameters: Mapping[str, Any] | None = None,
    label: str = DEFAULT_LABEL,
    finished: bool = True,
    **options: Any,
) -> Imported:
    """`import_runs` of a live browser-use Agent, from its `on_step_end` hook
    (`finished=False`: the run's `run_started`) or once it is done: its history so far, its
    task, its `sensitive_data` (whose values only scrub), and a run id from the Agent's id,
    so the calls of one Agent name one run. Duck-typed: browser_use is not imported."""
    secrets = getattr(agent, "sensitive_data", None)
    history = agent.history.model_dump(sensitive_data=secrets)
    agent_id = getattr(agent, "id", None)
    if agent_id is not None:
        options.setdefault("workflow_run_id", f"wr_bu_{agent_id}")
    return import_runs(
        [TaskRun(history, getattr(agent, "task", None), label)],
        workflow_permanent_id=workflow_permanent_id,
        parameters=parameters,
        sensitive_data=secrets,
        finished=finished,
        **options,
    )


def secret_values(sensitive_data: Mapping[str, Any] | None) -> dict[str, str]:
    """browser-use's `sensitive_data` (key → value, or domain → {key → value}) flattened."""
    out: dict[str, str] = {}
    for key, value in (sensitive_data or {}).items():
        if isinstance(value, Mapping):
            out.update({str(k): str(v) for k, v in value.items() if v})
        elif value:
            out[str(key)] = str(value)
    return out


def import_runs(
    runs: Sequence[TaskRun],
    *,
    workflow_permanent_id: str,
    parameters: Mapping[str, Any] | None = None,
    sensitive_data: Mapping[str, Any] | None = None,
    credential_keys: Iterable[str] = (),
    workflow_version: int = 1,
    workflow_run_id: str | None = None,
    title: str | None = None,
    finished: bool = True,
) -> Imported:
    """The definition and events of browser-use runs. `parameters`: the run's workflow
    parameter values (typed values equal to one are recorded with its key); `sensitive_data`:
    the Agent's, whose keys become credential parameters and whose values never appear in
    what is returned (they only scrub it). `finished=False` (a run still going): its
    `run_started` alone, since a block event is sent once the block reached a final status."""
    if not runs:
        raise ValueError("no browser-use run to import")
    params = dict(parameters or {})
    secrets = secret_values(sensitive_data)
    keys = sorted({*secrets, *credential_keys, *(k for r in runs for k in _placeholders(r))})
    if clash := set(keys) & set(params):
        raise ValueError(f"{sorted(clash)}: both a parameter and a sensitive_data key")
    run_id = workflow_run_id or _run_id(workflow_permanent_id, runs)
    blocks = [_block(run, params) for run in runs]
    definition = {
        "title": title
        or _first_line(templated(_secret_free(runs[0].task or task_of(runs[0].history)), params))
        or f"browser-use: {workflow_permanent_id}",
        "cache_key": "default",
        "parameters": [{"key": k, "parameter_type": "workflow"} for k in params]
        + [{"key": k, "parameter_type": "credential"} for k in keys],
        "blocks": blocks,
    }
    steps = [s for run in runs for s in run.history.get("history") or []]
    started, ended = _time(steps, "step_start_time", 0), _time(steps, "step_end_time", -1)
    events: list[dict[str, Any]] = []

    def event(kind: str, at: str, **fields: Any) -> None:
        number = len(events)
        events.append(
            {
                "type": kind,
                "event_id": f"evt_{run_id}_{number}",
                "occurred_at": at,
                "workflow_run_id": run_id,
                **fields,
            }
        )

    event(
        "run_started",
        started,
        workflow_permanent_id=workflow_permanent_id,
        workflow_version=workflow_version,
        definition=definition,
        parameters=params,
        run_with="agent",
        code_gen=False,
    )
    statuses = []
    for n, (run, block) in enumerate(zip(runs, blocks, strict=True) if finished else []):
        completed = _block_event(run, block, f"{run_id}_{n}", params, set(keys))
        statuses.append(completed["status"])
        event("block_completed", completed.pop("at") or ended, **completed)
    if finished:
        ok = all(s == "completed" for s in statuses)
        event("run_finished", ended, status="completed" if ok else "failed")
    scrub = Secrets.of_parameters(secrets, secrets.keys(), SealKey.fresh())
    if scrub:
        events = [redact_raw(e, scrub) for e in events]
        definition = _scrubbed(definition, scrub)
        events[0]["definition"] = definition
    return Imported(definition, events)


def _block(run: TaskRun, params: Mapping[str, Any]) -> dict[str, Any]:
    """The run's block definition: the task and its first url, parameters as templates."""
    block: dict[str, Any] = {"label": run.label, "block_type": BLOCK_TYPE}
    url = first_url(run.history)
    if url:
        block["url"] = templated(url, params)
    goal = run.task or task_of(run.history) or "; ".join(g for g in _goals(run.history) if g)
    block["navigation_goal"] = templated(_secret_free(goal), params)
    return block


def extraction_goal(history: Mapping[str, Any], params: Mapping[str, Any]) -> str | None:
    """The first extraction's query: the recorded task's extraction goal (not the
    definition's: the definition depends on the task alone, whatever the run did)."""
    for name, action_params, *_ in _actions(history):
        if ACTION_TYPES.get(name) == "extract" and isinstance(action_params.get("query"), str):
            return templated(str(action_params["query"]), params)
    return None


def _block_event(
    run: TaskRun, block: Mapping[str, Any], prefix: str, params: Mapping[str, Any], keys: set[str]
) -> dict[str, Any]:
    """The block_completed fields of one run (and `at`, when its last step ended)."""
    steps = list(run.history.get("history") or [])
    actions: list[dict[str, Any]] = []
    done: Mapping[str, Any] | None = None
    for name, action_params, result, element, step in _actions(run.history):
        item = action(name, action_params, result, element, step, params, keys)
        if item is None:
            continue
        if (
            not actions
            and item["action_type"] == "goto_url"
            and item["text"] == first_url(run.history)
        ):
            continue  # the block's own url: the script opens it first
        item["action_id"] = f"{prefix}_a{len(actions)}"
        actions.append(item)
        if name == "done":
            done = result
    success = done is not None and done.get("success") is not False
    last = (steps[-1].get("state") or {}) if steps else {}
    fields: dict[str, Any] = {
        "workflow_run_block_id": f"wrb_{prefix}",
        "parent_workflow_run_block_id": None,
        "label": run.label,
        "block_type": BLOCK_TYPE,
        "status": "completed" if success else "failed",
        "executed_with": "agent",
        "loop_index": None,
        "loop_value": None,
        "task": {
            "task_id": f"tsk_{prefix}",
            "url": block.get("url"),
            "navigation_goal": block.get("navigation_goal"),
            "data_extraction_goal": extraction_goal(run.history, params),
            "extracted_information_schema": None,
        },
        "actions": actions,
        "at": _time(steps, "step_end_time", -1) if steps else None,
    }
    if last.get("url"):
        fields["page"] = {"url": last["url"], "title": _title(last)}
    output = _structured(done)
    if output is None:
        output = extracted(run.history)
    if output is not None:
        fields["output"] = output
    return fields


def action(
    name: str,
    params: Mapping[str, Any],
    result: Mapping[str, Any],
    element: Mapping[str, Any] | None,
    step: Mapping[str, Any],
    parameters: Mapping[str, Any],
    credential_keys: set[str],
) -> dict[str, Any] | None:
    """One browser-use action as an event's actions item; None for what is not replayed."""
    kind = ACTION_TYPES.get(name, name)
    if kind == "scroll" and params.get("index") is None:
        return None
    output = step.get("model_output") or {}
    item: dict[str, Any] = {
        "action_type": kind,
        "xpath": None,
        "intention": output.get("next_goal") or None,
        "reasoning": output.get("memory") or output.get("thinking") or None,
        "text": None,
        "option": None,
        "parameter_key": None,
        "status": "failed" if result.get("error") else "completed",
    }
    if element and element.get("x_path"):
        xpath = str(element["x_path"])
        item["xpath"] = xpath if xpath.startswith("/") else f"/{xpath}"
        item["element"] = descriptor(element)
    if kind == "goto_url":
        item["text"] = params.get("url")
    elif kind in ("input_text", "select_option", "upload_file"):
        typed = params.get("text") if kind != "upload_file" else params.get("path")
        text, key = typed_value(typed, parameters, credential_keys)
        item["parameter_key"] = key
        item["option" if kind == "select_option" else "text"] = text
    elif kind == "keypress":
        item["text"] = params.get("keys")
    elif kind == "wait":
        item["text"] = str(params.get("seconds", 3))
    elif kind == "extract":
        item["intention"] = params.get("query") or item["intention"]
    elif kind == "complete":
        item["text"] = params.get("text")
    return item


def typed_value(
    typed: Any, parameters: Mapping[str, Any], credential_keys: set[str]
) -> tuple[str | None, str | None]:
    """(text, parameter_key) of a typed value: a whole `<secret>k</secret>` is the credential
    k and no text; a placeholder inside other text leaves a redaction marker (the script then
    hands that action to the agent); a value equal to a parameter's is recorded with its key."""
    if not isinstance(typed, str):
        return (None if typed is None else str(typed)), None
    whole = _SECRET.fullmatch(typed)
    if whole and whole.group(1) in credential_keys:
        return None, whole.group(1)
    if _SECRET.search(typed):
        return _SECRET.sub(REDACTED, typed), None
    scalars = {
        k: v
        for k, v in parameters.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    }
    source = RunValues(scalars).binder(None, False, frozenset(), {}).whole(typed)
    return typed, (source.name if source is not None and source.group == PARAMETER else None)


def descriptor(element: Mapping[str, Any]) -> dict[str, Any]:
    """What browser-use recorded of an element as a DESCRIBE_JS record (worker/runtime/
    identity.py): its tag, its text by that function's rule where what browser-use recorded
    gives it for certain, and the attributes both record. A button's or link's accessible
    name is its text; a field's is not always its label's text (an image's alt in the label
    counts for one, not for the other), so a field's text is expected only from its
    aria-label or, when its accessible name is its placeholder, from that; its accessible
    name is kept as its `label`, which only helps to find it again when it moved."""
    attrs = {str(k): str(v) for k, v in (element.get("attributes") or {}).items()}
    tag = str(element.get("node_name") or "").lower() or "unknown"
    kind = attrs.get("type", "").lower()
    name = " ".join(str(element.get("ax_name") or "").split()) or None
    aria = " ".join(attrs.get("aria-label", "").split()) or None
    button = tag == "button" or (tag == "input" and kind in ("submit", "button", "reset"))
    placeholder = attrs.get("placeholder")
    if tag == "input" and button:
        text = attrs.get("value") or name
    elif tag in _FIELDS:
        text = aria or (placeholder if name == placeholder else None)
    else:
        text = aria or name
    out: dict[str, Any] = {"tag": tag, "text": text}
    out.update({ours: attrs[theirs] for theirs, ours in _ATTRIBUTES.items() if attrs.get(theirs)})
    if kind:
        out["type"] = kind
    if tag in _FIELDS and not button and name and not aria and name != placeholder:
        out["label"] = name
    if "href" in attrs:
        out["href"] = attrs["href"]
    if button and attrs.get("value"):
        out["value"] = attrs["value"]
    return out


def templated(text: str, parameters: Mapping[str, Any]) -> str:
    """`text` with each parameter's value (3 characters or more, at word boundaries, longest
    first) written as `{{ key }}`."""
    values = sorted(
        (
            (str(v), k)
            for k, v in parameters.items()
            if isinstance(v, str | int) and len(str(v)) >= 3
        ),
        key=lambda pair: -len(pair[0]),
    )
    for value, key in values:
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "{{ " + key + " }}", text)
    return text


def task_of(history: Mapping[str, Any]) -> str | None:
    """The task as browser-use showed it to the model (`<user_request>` of the first step's
    state message, saved since 0.13), else None."""
    for step in history.get("history") or []:
        found = _USER_REQUEST.search(str(step.get("state_message") or ""))
        if found:
            return found.group(1).strip()
    return None


def first_url(history: Mapping[str, Any]) -> str | None:
    """The first url the run navigated to, else the page its first step saw."""
    for name, params, *_ in _actions(history):
        if ACTION_TYPES.get(name) == "goto_url" and isinstance(params.get("url"), str):
            return str(params["url"])
    for step in history.get("history") or []:
        url = (step.get("state") or {}).get("url")
        if isinstance(url, str) and url.startswith("http"):
            return url
    return None


def _actions(
    history: Mapping[str, Any],
) -> Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, Any] | None, Any]]:
    """(name, params, result, element, step) of every action performed, in order: a step's
    actions beyond its results were never executed (browser-use stopped the sequence)."""
    for step in history.get("history") or []:
        chosen = (step.get("model_output") or {}).get("action") or []
        results = step.get("result") or []
        elements = (step.get("state") or {}).get("interacted_element") or []
        for i, (chosen_action, result) in enumerate(zip(chosen, results, strict=False)):
            if not isinstance(chosen_action, Mapping) or not chosen_action:
                continue
            name, params = next(iter(chosen_action.items()))
            element = elements[i] if i < len(elements) else None
            yield str(name), params if isinstance(params, Mapping) else {}, result, element, step


def _goals(history: Mapping[str, Any]) -> list[str]:
    return [
        str((s.get("model_output") or {}).get("next_goal") or "")
        for s in history.get("history") or []
    ]


def _placeholders(run: TaskRun) -> set[str]:
    found = set(_SECRET.findall(run.task or task_of(run.history) or ""))
    for _name, params, *_ in _actions(run.history):
        found.update(_SECRET.findall(json.dumps(params)))
    return found


def extracted(history: Mapping[str, Any]) -> Any:
    """The last extraction's result when it is a JSON object (browser-use's `extract` returns
    `<result>...</result>`), else None: the block's output (ARCHITECTURE.md §9)."""
    found = None
    for name, _params, result, *_ in _actions(history):
        if ACTION_TYPES.get(name) != "extract":
            continue
        match = _RESULT.search(str(result.get("extracted_content") or ""))
        try:
            value = json.loads(match.group(1)) if match else None
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found = value
    return found


def _secret_free(text: str | None) -> str:
    return _SECRET.sub(r"{{ \1 }}", text or "")


def _structured(done: Mapping[str, Any] | None) -> Any:
    """The run's structured result (a done with an output model returns JSON), else None."""
    text = (done or {}).get("extracted_content")
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _title(state: Mapping[str, Any]) -> str | None:
    """The page's title; browser-use records the address instead while a page loads."""
    title, url = str(state.get("title") or ""), str(state.get("url") or "")
    return None if not title or url.endswith(title) else title


def _time(steps: Sequence[Mapping[str, Any]], key: str, index: int) -> str:
    """When the step at `index` started or ended (browser-use's step metadata), as ISO-8601;
    a history without timings gets the time of the import."""
    stamps = [
        float(stamp)
        for s in steps
        if isinstance(stamp := (s.get("metadata") or {}).get(key), int | float)
    ]
    moment = datetime.fromtimestamp(stamps[index], UTC) if stamps else datetime.now(UTC)
    return moment.isoformat()


def _run_id(workflow_permanent_id: str, runs: Sequence[TaskRun]) -> str:
    """The same history imported twice is the same run (its events repeat harmlessly)."""
    digest = hashlib.sha256(workflow_permanent_id.encode())
    for run in runs:
        digest.update(json.dumps([run.label, run.task, run.history], sort_keys=True).encode())
    return f"wr_bu_{digest.hexdigest()[:24]}"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:120] if (text or "").strip() else ""


def _scrubbed(value: Any, secrets: Secrets) -> Any:
    return secrets.scrub_tree(value)
