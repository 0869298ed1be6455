"""The three events of the producer contract: models, validation and redaction (pure)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from worker.definition import PUBLIC_PARAMETER_TYPES, Definition, check_label
from worker.errors import PermanentError
from worker.secrets import (
    REDACTED as REDACTED,  # re-exported: what redaction puts in place of a secret
)
from worker.secrets import (
    TYPED_FIELDS,
    Secrets,
    protect_action,
    seal_value,
)

BlockStatus = Literal["completed", "failed", "terminated", "canceled", "timed_out", "skipped"]
RunStatus = Literal["completed", "failed", "terminated", "canceled", "timed_out"]
ExecutedWith = Literal["agent", "code"]
# ARCHITECTURE.md §8: whether a block that ran from code needed the agent, and for how much.
Fallback = Literal["none", "relocated", "element", "block"]
ActionSource = Literal["code", "agent"]
KNOWN_ACTION_TYPES = frozenset({
    "click", "input_text", "select_option", "upload_file", "goto_url", "hover", "keypress",
    "scroll", "wait", "extract", "download_file", "solve_captcha", "complete", "terminate",
    "null_action",
})
EVENT_TYPES = ("run_started", "block_completed", "run_finished")
# Every task name of the worker is defined here and imported wherever it is needed (the tasks,
# the Celery routes, the publisher, the dead-letter queue): one task per event type, ...
TASK_NAMES = {t: f"scriptcache.{t}" for t in EVENT_TYPES}
GENERATE_TASK = "scriptcache.generate"  # ... the generation of one due run ...
SWEEP_TASK = "scriptcache.sweep"  # ... and the sweeper, run by beat.
MAX_NESTING = 64
Id = Annotated[str, Field(min_length=1, max_length=256)]
# Bounds of the columns these values are stored in (worker/models.py): a value outside them
# is a bad payload, not a database error at insert time.
INT32_MAX = 2**31 - 1
Int32 = Annotated[StrictInt, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
TypeName = Annotated[str, Field(min_length=1, max_length=64)]


class _Model(BaseModel):
    # Unknown extra fields are kept, not rejected.
    model_config = ConfigDict(extra="allow", frozen=True)


class Element(_Model):
    """The element an action was performed on, as its recorder saw it (worker/runtime/
    identity.py defines `text`): a replay checks that its selector still designates it."""

    tag: str = Field(min_length=1, max_length=64)  # the lower-case tag name: "input", "a"
    text: str | None = None  # its text by identity.py's rule, or null when it has none

    @field_validator("tag")
    @classmethod
    def _lower_case(cls, value: str) -> str:
        return value.lower()


class Action(_Model):
    action_id: Id
    action_type: TypeName
    xpath: str | None = None
    intention: str | None = None
    reasoning: str | None = None
    text: str | None = None
    option: str | None = None
    parameter_key: str | None = None
    status: str | None = Field(default=None, max_length=32)
    # Who performed it: the cached script or the agent (default: the block's executed_with).
    # An action the agent judged unnecessary is listed with status "skipped", source "agent".
    source: ActionSource | None = None
    # The element it was performed on (optional; an action on no element has none).
    element: Element | None = None


class TaskInfo(_Model):
    task_id: Id
    url: str | None = None
    navigation_goal: str | None = None
    data_extraction_goal: str | None = None
    extracted_information_schema: Any = None


class _Event(_Model):
    event_id: Id
    occurred_at: datetime
    workflow_run_id: Id


class ScriptRef(_Model):
    """The revision a run executed (`scriptcache plan` gives both numbers)."""

    script_id: StrictInt = Field(ge=1)
    version: StrictInt = Field(ge=1, le=INT32_MAX)


class RunStarted(_Event):
    type: Literal["run_started"]
    workflow_permanent_id: Id
    workflow_version: StrictInt = Field(ge=0, le=INT32_MAX)
    definition: Definition
    parameters: dict[str, Any] = Field(default_factory=dict)
    run_with: ExecutedWith = "agent"
    code_gen: StrictBool = False
    script: ScriptRef | None = None  # the revision the run executed, when it ran one


class BlockCompleted(_Event):
    type: Literal["block_completed"]
    workflow_run_block_id: Id
    parent_workflow_run_block_id: Id | None = None
    label: str = Field(min_length=1)
    block_type: TypeName
    status: BlockStatus
    executed_with: ExecutedWith = "agent"
    loop_index: Int32 | None = None
    loop_value: Any = None
    task: TaskInfo | None = None
    actions: list[Action] = Field(default_factory=list)
    # none: no agent needed; element: ran from code, the agent did some actions; block: the
    # cached code failed and the agent ran the whole block (executed_with is then "agent").
    fallback: Fallback = "none"
    # The block's output, such as an extraction's result: later blocks' typed values bind to
    # it (ctx.outputs[label]) and definition templates read it as {{ label.output }}.
    output: Any = None


    @field_validator("label")
    @classmethod
    def _storable_label(cls, value: str) -> str:
        return check_label(value)


class RunFinished(_Event):
    type: Literal["run_finished"]
    status: RunStatus


# Any event, parsed: the one definition of the union, imported wherever an event is handled.
Event = RunStarted | BlockCompleted | RunFinished
_EVENT: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="type")])


def parse_event(raw: Any) -> Event:
    """Validate one event object; a PermanentError names the field and the problem."""
    if not isinstance(raw, dict):
        raise PermanentError(f"event: expected a JSON object, got {type(raw).__name__}")
    _check_values(raw)
    try:
        return _EVENT.validate_python(raw)
    except ValidationError as exc:
        raise PermanentError(f"invalid {_describe(raw)}: {_summary(exc)}") from None
    except RecursionError:
        raise PermanentError(f"invalid {_describe(raw)}: nested too deeply") from None


def parse_line(line: str | bytes) -> Event:
    """Parse one JSON Lines record into an event."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PermanentError(f"event: invalid UTF-8 at byte {exc.start}") from None
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"event: not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise PermanentError("event: JSON nested too deeply") from None
    return parse_event(raw)


def read_lines(data: str) -> list[str]:
    """Split JSON Lines on \\n only: U+2028 and friends may occur inside strings."""
    return [line for line in data.split("\n") if line.strip()]


def _describe(raw: dict[str, Any]) -> str:
    kind = raw.get("type")
    name = kind if isinstance(kind, str) and kind in EVENT_TYPES else "event"
    event_id = raw.get("event_id")
    return f"{name} {event_id!r}" if isinstance(event_id, str) else name


def _summary(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        loc = list(error["loc"])
        if loc and loc[0] in EVENT_TYPES:  # the discriminator's tag, not a field
            loc = loc[1:]
        where = ".".join(str(p) for p in loc) or "event"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _check_values(raw: Any) -> None:
    """Reject what the database cannot store: NUL characters, lone surrogates, NaN and
    infinities (not JSON, refused by JSONB), deep nesting."""
    stack: list[tuple[Any, str, int]] = [(raw, "event", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_NESTING:
            raise PermanentError(f"{where}: nested deeper than {MAX_NESTING} levels")
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, float) and not math.isfinite(value):
            raise PermanentError(f"{where}: {value} is not a JSON number")
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(str(key), where)
                stack.append((item, f"{where}.{key}"[:200], depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}.{i}"[:200], depth + 1) for i, item in enumerate(value))


def _check_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise PermanentError(f"{where}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PermanentError(f"{where}: contains an unpaired surrogate (invalid UTF-8)") from None


def redact_event(event: Event, secrets: Secrets | None = None) -> Any:
    """The event as it may be stored: no secret value in any field (worker/secrets.py).

    run_started: parameters of a secret type (credential, totp) are dropped, and so is every
    field of their definition but `key` and `parameter_type`. block_completed: the recorded
    value of an action whose `parameter_key` is set is never needed (generated code refers to
    parameters by key) and is not kept for any parameter. With `secrets` (the run's, in plain
    or sealed), every other string is scrubbed and a typed value equal to a secret is bound to
    its key.
    """
    if isinstance(event, RunStarted):
        secret = event.definition.credential_keys()
        secrets = Secrets.of_parameters(event.parameters, secret).merge(secrets or Secrets())
        data = event.model_dump(mode="json", exclude_unset=True)
        data["parameters"] = {k: v for k, v in event.parameters.items() if k not in secret}
        definition = data["definition"]
        definition["parameters"] = [
            {"key": p["key"], "parameter_type": p["parameter_type"]} if p["key"] in secret else p
            for p in definition.get("parameters", [])
        ]
        return RunStarted.model_validate(_scrub_fields(data, secrets))
    if isinstance(event, BlockCompleted):
        actions = [
            a.model_copy(update={"text": None, "option": None}) if a.parameter_key else a
            for a in event.actions
        ]
        event = event.model_copy(update={"actions": actions})
        if not secrets:
            return event
        data = event.model_dump(mode="json", exclude_unset=True)
        data["actions"] = [protect_action(a, secrets) for a in data.get("actions", [])]
        return BlockCompleted.model_validate(_scrub_fields(data, secrets))
    return event


# Identifiers and the fields intake routes by: never scrubbed (they are not free text).
_ROUTING = frozenset({"type", "event_id", "occurred_at", "workflow_run_id",
                      "workflow_run_block_id", "parent_workflow_run_block_id", "actions",
                      "workflow_version", "code_gen", "run_with", "status", "executed_with",
                      "loop_index", "block_type", "fallback"})


def _scrub_fields(data: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    return {k: v if k in _ROUTING else secrets.scrub_tree(v) for k, v in data.items()}


def summary(raw: Any) -> Any:
    """What Celery may show of a message (argsrepr, Flower, its logs): the event's type and
    identifiers, never its content."""
    if isinstance(raw, list | tuple):
        return [summary(item) for item in raw]
    if not isinstance(raw, dict):
        return type(raw).__name__
    return {k: raw[k][:256] for k in SUMMARY_FIELDS if isinstance(raw.get(k), str)}


SUMMARY_FIELDS = ("type", "event_id", "workflow_run_id", "workflow_run_block_id")


def summary_repr(args: Any) -> str:
    return repr(summary(list(args) if isinstance(args, list | tuple) else args))


def redact_raw(raw: Any, secrets: Secrets | None = None) -> Any:
    """The sealed form of a payload that may not validate: what a re-sent message (a retry, a
    dead letter, its replay) carries instead of the original.

    Exactly what is secret is removed, so intake of the sealed form has the outcome of the
    original: parameters of a secret type become seals (worker/secrets.py), secret parameters
    of the definition keep only `key` and `parameter_type`, an action typed from a parameter
    loses its text, and every other string is scrubbed of the run's secrets (`secrets`, plus
    the plain values this payload carries). What cannot be told apart is redacted whole:
    parameters that are not an object, or whose types the definition does not tell, and
    every `text` and `option` of actions that are not a list.
    """
    secrets = payload_secrets(raw).merge(secrets or Secrets())
    if isinstance(raw, list | tuple):
        return [redact_raw(item, secrets) for item in raw]
    if not isinstance(raw, dict):
        return secrets.scrub_tree(raw)
    known = secret_parameter_keys(raw.get("definition"))
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "parameters":
            out[name] = (
                {k: seal_value(k, v) if known is None or k in known else secrets.scrub_tree(v)
                 for k, v in value.items()} if isinstance(value, dict) else REDACTED)
        elif name == "definition" and isinstance(value, dict):
            out[name] = secrets.scrub_tree(_trim_definition(value, known))
        elif name == "actions":
            out[name] = _redact_actions(value, secrets)
        elif name in _ROUTING:
            out[name] = value
        else:
            out[name] = secrets.scrub_tree(value)
    return out


def payload_secrets(raw: Any, depth: int = 0) -> Secrets:
    """The secrets a payload carries in plain or sealed: the values of its secret parameters
    (every parameter when the definition cannot tell), in it or in events it wraps."""
    if isinstance(raw, list | tuple) and depth < MAX_NESTING:
        found = Secrets()
        for item in raw:
            found = found.merge(payload_secrets(item, depth + 1))
        return found
    params = raw.get("parameters") if isinstance(raw, dict) else None
    if not isinstance(params, dict):
        return Secrets()
    known = secret_parameter_keys(raw.get("definition"))
    return Secrets.of_parameters(params, set(params) if known is None else known)


def _trim_definition(definition: dict[str, Any], known: frozenset[str] | None) -> Any:
    params = definition.get("parameters")
    if not isinstance(params, list):
        return definition
    return {**definition, "parameters": [
        {k: p[k] for k in ("key", "parameter_type") if k in p}
        if isinstance(p, dict) and (known is None or p.get("key") in known) else p
        for p in params
    ]}


def _redact_actions(actions: Any, secrets: Secrets) -> Any:
    if not isinstance(actions, list):  # a shape intake refuses: keep no typed value at all
        return _redact_typed(actions)
    out = []
    for action in actions:
        if isinstance(action, dict):
            if action.get("parameter_key"):
                action = {**action, **{k: None for k in TYPED_FIELDS if k in action}}
            out.append(protect_action(action, secrets))
        else:
            out.append(secrets.scrub_tree(action))
    return out


def _redact_typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k in TYPED_FIELDS and v is not None else _redact_typed(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_typed(v) for v in value]
    return value


def secret_parameter_keys(definition: Any) -> frozenset[str] | None:
    """Keys of the definition's secret parameters; None when the definition cannot tell
    (then every parameter is treated as secret). An unknown parameter type counts as secret."""
    if not isinstance(definition, dict) or not isinstance(definition.get("parameters"), list):
        return None
    keys: set[str] = set()
    for param in definition["parameters"]:
        if not isinstance(param, dict) or not isinstance(param.get("key"), str):
            return None
        if param.get("parameter_type") not in PUBLIC_PARAMETER_TYPES:
            keys.add(param["key"])
    return frozenset(keys)
