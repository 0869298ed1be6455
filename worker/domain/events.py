"""The three events of the producer contract: models and validation (pure).

Their redaction is worker/secrets/redaction.py; task names are config/names.py."""

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

from config.names import EVENT_TYPES
from worker.domain.definition import Definition, check_label
from worker.domain.errors import PermanentError
from worker.secrets.seals import (
    REDACTED as REDACTED,  # re-exported: what redaction puts in place of a secret
)

BlockStatus = Literal["completed", "failed", "terminated", "canceled", "timed_out", "skipped"]
RunStatus = Literal["completed", "failed", "terminated", "canceled", "timed_out"]
ExecutedWith = Literal["agent", "code"]
# ARCHITECTURE.md §8: whether a block that ran from code needed the agent, and for how much.
Fallback = Literal["none", "relocated", "element", "block"]
ActionSource = Literal["code", "agent"]
MAX_NESTING = 64
Id = Annotated[str, Field(min_length=1, max_length=256)]
# Bounds of the columns these values are stored in (worker/adapters/sql/models.py): a value outside them
# is a bad payload, not a database error at insert time.
INT32_MAX = 2**31 - 1
Int32 = Annotated[StrictInt, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]
TypeName = Annotated[str, Field(min_length=1, max_length=64)]


class _Model(BaseModel):
    # Unknown extra fields are kept, not rejected.
    model_config = ConfigDict(extra="allow", frozen=True)


class ElementForm(_Model):
    """The form an element belongs to: its action's path and query, and its fields' names."""

    action: str | None = None
    fields: list[str] = Field(default_factory=list)


class Element(_Model):
    """The element an action was performed on, as its recorder saw it (worker/runtime/
    identity.py's DESCRIBE_JS defines every field): a replay checks that its selector still
    designates it, and finds it again by these attributes when it moved (ARCHITECTURE.md
    §11). Everything but `tag` is optional."""

    tag: str = Field(min_length=1, max_length=64)  # the lower-case tag name: "input", "a"
    text: str | None = None  # its text by identity.py's rule, or null when it has none
    id: str | None = None
    name: str | None = None
    type: str | None = None
    role: str | None = None
    aria_label: str | None = None
    placeholder: str | None = None
    label: str | None = None  # the text of its label
    title: str | None = None
    alt: str | None = None
    href: str | None = None  # path and query (the whole url for another origin)
    value: str | None = None  # of a button
    editable: StrictBool | None = None  # a rich-text editor (contenteditable)
    form: ElementForm | None = None
    landmark: str | None = None  # "form#login-form", 'nav[aria-label="Breadcrumbs"]', "main"
    row: str | None = None  # in a table: its row's name (the first cell with a text)
    near: list[str] | None = Field(default=None, max_length=3)  # short texts beside it
    index: StrictInt | None = Field(
        default=None, ge=0, le=INT32_MAX
    )  # among its tag's in its landmark

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


class FieldPlace(_Model):
    """Where one scalar of a block's `output` was on the page when the block completed: its
    path in the output (keys and list indices), the element that showed it (§11
    descriptor, with the xpath it was at) and `attribute` when the value was an attribute of
    that element rather than its text."""

    path: list[str | StrictInt] = Field(min_length=1, max_length=8)
    xpath: str | None = Field(default=None, max_length=2000)
    element: Element
    attribute: str | None = Field(default=None, max_length=64)
    before: str | None = Field(default=None, max_length=300)  # the element's text before it
    after: str | None = Field(default=None, max_length=300)  # and after it


class PageState(_Model):
    """The page when a block completed (ARCHITECTURE.md §12): the generator derives the
    block's outcome check from `url` (its path) and `title`, and an extraction's readers from
    `fields`."""

    url: str | None = Field(default=None, max_length=4000)
    title: str | None = Field(default=None, max_length=1000)
    # The page's url when the block started: a block that ended where it started is checked
    # by its title too (its path cannot tell whether it did anything).
    start_url: str | None = Field(default=None, max_length=4000)
    fields: list[FieldPlace] = Field(default_factory=list, max_length=256)


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
    # The page when the block completed (url, title, where the output's scalars were shown):
    # the block's outcome check and its extraction's readers are generated from it.
    page: PageState | None = None

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


def storable_text(text: str) -> str:
    """A text as the database can store it: NUL characters and lone surrogates (which the
    validator refuses, so a dead letter may hold them) escaped, not lost."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()


def text_field(payload: Any, name: str) -> str | None:
    """A string field of a payload that may not be an object (None otherwise), capped."""
    value = payload.get(name) if isinstance(payload, dict) else None
    return value[:256] if isinstance(value, str) else None
