"""A replay as the events of the producer contract (ARCHITECTURE.md §2 and §8), pure.

`run_started` (run_with "code", the revision it executed as `script`), one `block_completed`
per block and loop iteration in the order they finished (with executed_with, fallback and
every action performed), then `run_finished`. Ready for `scriptcache ingest --generate`, the
worker (`scriptcache publish`) or a platform's own publisher.

A task_v2 block's children are emitted as an agent run's are: each helper call of its
function (worker/browser/replay.py) is a `block_completed` with the task_v2's run block as
`parent_workflow_run_block_id`, the child's label and block type as recorded, its task and
its actions; the task_v2 itself follows them, with fallback `element` when the agent did
any of their actions (`relocated` when their elements only moved). So a child that fell
back repairs its task_v2 (ARCHITECTURE.md §8). A task_v2 the agent ran whole (`run_block`:
not cached yet, or its cached code raised) has one child instead of what its code did:
labelled like the task_v2, block type `task`, holding the agent's actions, from which the
next generation builds its function.

Credentials never appear: run parameters of type credential are left out, an action whose
typed value is a credential's names its key instead (worker/browser/page.py), and any string
that still contains a credential's value is scrubbed of it (identifiers excepted), by the
rules intake applies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from worker.browser.journal import BlockRecord, Fallback, ReplayResult
from worker.domain.codegen.values import PARAMETER, RunValues, mentions
from worker.domain.definition import TASK_LIKE, Definition
from worker.domain.events import BlockCompleted
from worker.secrets.redaction import redact_raw
from worker.secrets.seals import SealKey, Secrets

AGENT_CHILD_TYPE = "task"  # the child of a task_v2 the agent ran whole


@dataclass(frozen=True)
class RunInfo:
    """What the events say about the run besides what the replay did."""

    workflow_permanent_id: str
    workflow_version: int
    script_id: int | None
    version: int | None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, Any] = field(default_factory=dict)
    workflow_run_id: str = ""  # default: a fresh wr_<uuid>
    run_with: str = "code"  # "agent" for a run without a script (worker/browser/agent_run.py)


def new_run_id() -> str:
    return f"wr_{uuid.uuid4().hex}"


def emit_events(
    result: ReplayResult, definition: Definition, info: RunInfo
) -> list[dict[str, Any]]:
    """The replayed run's events, in order."""
    run_id = info.workflow_run_id or new_run_id()
    started = result.started_at or datetime.now(UTC)
    finished = result.finished_at or started
    secret_keys = definition.credential_keys()
    events: list[dict[str, Any]] = []

    def event(kind: str, at: datetime, **fields: Any) -> None:
        events.append(
            {
                "type": kind,
                "event_id": f"evt_{run_id}_{len(events)}",
                "occurred_at": at.isoformat(),
                "workflow_run_id": run_id,
                **fields,
            }
        )

    event(
        "run_started",
        started,
        workflow_permanent_id=info.workflow_permanent_id,
        workflow_version=info.workflow_version,
        definition=definition.model_dump(mode="json", exclude_unset=True),
        parameters={k: v for k, v in info.parameters.items() if k not in secret_keys},
        run_with=info.run_with,
        code_gen=False,
        script=None
        if info.script_id is None or info.version is None
        else {"script_id": info.script_id, "version": info.version},
    )
    records = run_blocks(result.records, definition)
    ids = {id(r): f"wrb_{run_id}_{n}" for n, r in enumerate(records)}
    summary = fell_back_within(records, definition)
    for record in records:
        event(
            "block_completed",
            record.finished_at or finished,
            **_block(record, definition, ids[id(record)], ids, info, summary),
        )
    event("run_finished", finished, status="completed" if result.ok else "failed")
    return [redacted(e, info.credentials) for e in events]


def block_type_of(record: BlockRecord, definition: Definition) -> str:
    """A task_v2 child's recorded type, else the definition's (task when it has none)."""
    if record.block_type is not None:
        return record.block_type
    block = definition.block(record.label)
    return block.block_type if block is not None else "task"


def run_blocks(records: Sequence[BlockRecord], definition: Definition) -> list[BlockRecord]:
    """The records as the run's blocks, in order: a task_v2 the agent ran whole loses what
    its code did before (the agent's actions replace it) and gains the child holding the
    agent's actions, just before it."""
    whole = {
        id(r)
        for r in records
        if r.executed_with == "agent" and block_type_of(r, definition) == "task_v2"
    }
    out: list[BlockRecord] = []
    for record in records:
        if any(id(parent) in whole for parent in _ancestors(record)):
            continue
        if id(record) in whole:
            out.append(_agent_child(record, definition))
        out.append(record)
    return out


def _agent_child(record: BlockRecord, definition: Definition) -> BlockRecord:
    """The child of a task_v2 the agent ran whole: its actions and extracted data."""
    block = definition.block(record.label) if record.block_type is None else None
    extra = (block.model_extra or {}) if block is not None else {}
    return BlockRecord(
        record.label,
        record.loop_index,
        record.loop_value,
        parent=record,
        executed_with="agent",
        status=record.status,
        actions=list(record.actions),
        extracted=list(record.extracted),
        finished_at=record.finished_at,
        detail=record.detail,
        block_type=AGENT_CHILD_TYPE,
        extraction=(extra.get("data_extraction_goal"), extra.get("data_schema")),
    )


def fell_back_within(records: Sequence[BlockRecord], definition: Definition) -> dict[int, Fallback]:
    """The task_v2 records that ran from code while one of their children fell back, with
    the fallback they report: "element" when the agent did any of the children's actions,
    else "relocated"."""
    found: dict[int, Fallback] = {}
    for record in records:
        if record.fallback == "none":
            continue
        child: Fallback = "relocated" if record.fallback == "relocated" else "element"
        for parent in _ancestors(record):
            if block_type_of(parent, definition) != "task_v2":
                break
            if found.get(id(parent)) != "element":
                found[id(parent)] = child
    return found


def _ancestors(record: BlockRecord) -> Iterator[BlockRecord]:
    parent = record.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _block(
    record: BlockRecord,
    definition: Definition,
    block_id: str,
    ids: dict[int, str],
    info: RunInfo,
    summary: dict[int, Fallback],
) -> dict[str, Any]:
    block = definition.block(record.label) if record.block_type is None else None
    block_type = block_type_of(record, definition)
    in_loop = record.parent is not None
    executed_with = record.executed_with
    if block is not None and block.block_type not in TASK_LIKE and info.run_with == "agent":
        executed_with = "agent"  # loops and conditionals of a run without a script
    fallback = record.fallback
    if fallback == "none" and id(record) in summary:
        fallback = summary[id(record)]  # a task_v2 whose children fell back
    task = None
    if block_type in TASK_LIKE and block is not None:
        extra = block.model_extra or {}
        task = {
            "task_id": f"tsk_{block_id}",
            "url": record.url or block.url,
            "navigation_goal": extra.get("navigation_goal"),
            "data_extraction_goal": extra.get("data_extraction_goal"),
            "extracted_information_schema": extra.get("data_schema"),
        }
    elif block_type in TASK_LIKE and record.block_type is not None:  # a task_v2 child
        goal, schema = record.extraction or (None, None)
        task = {
            "task_id": f"tsk_{block_id}",
            "url": record.url,
            "navigation_goal": None,
            "data_extraction_goal": goal,
            "extracted_information_schema": schema,
        }
    mentioned = mentions([block if block is not None else definition.block(record.label)])
    fields: dict[str, Any] = {
        "workflow_run_block_id": block_id,
        "parent_workflow_run_block_id": ids.get(id(record.parent)) if in_loop else None,
        "label": record.label,
        "block_type": block_type,
        "status": record.status,
        "executed_with": executed_with,
        "fallback": fallback,
        "loop_index": record.loop_index if in_loop else None,
        "loop_value": record.loop_value if in_loop else None,
        "task": task,
        "actions": [
            _action(a, f"act_{block_id}_{i}", info, mentioned) for i, a in enumerate(record.actions)
        ]
        if task is not None
        else [],
    }
    if record.extracted and "output" in BlockCompleted.model_fields:  # issue 14's field
        fields["output"] = record.extracted[-1]
    if record.page is not None and task is not None and record.status == "completed":
        fields["page"] = record.page
    return fields


def _action(
    action: dict[str, Any], action_id: str, info: RunInfo, mentioned: frozenset[str]
) -> dict[str, Any]:
    item = {
        "action_id": action_id,
        "reasoning": None,
        "text": None,
        "option": None,
        "parameter_key": None,
        "xpath": None,
        "intention": None,
        "status": "completed",
        **action,
    }
    if item["parameter_key"] is None:
        item["parameter_key"] = parameter_for(
            item.get("text") or item.get("option"), info.parameters, mentioned
        )
    return item


def parameter_for(
    value: Any, parameters: Mapping[str, Any], mentioned: frozenset[str] = frozenset()
) -> str | None:
    """The parameter whose value (as text) a typed or selected value equals, by the
    generator's rules (worker/domain/codegen/values.py): a value shorter than 3 characters
    only when the block's definition mentions the parameter (`mentioned`); ties to the
    mentioned parameter, then to the first key in sorted order. None when there is none."""
    if not isinstance(value, str) or not value:
        return None
    scalars = {
        k: v
        for k, v in parameters.items()
        if isinstance(v, str | int | float) and not isinstance(v, bool)
    }
    source = RunValues(scalars).binder(None, False, mentioned, {}).whole(value)
    return source.name if source is not None and source.group == PARAMETER else None


def redacted(value: dict[str, Any], credentials: Mapping[str, Any]) -> dict[str, Any]:
    """`value` by the rules intake applies (worker/secrets/redaction.py): every credential's
    value, of any length and inside objects too, out of every string but the identifiers
    (labels, ids, the definition), and a typed value that is a credential named by its key."""
    secrets = Secrets.of_parameters(credentials, credentials.keys(), SealKey.fresh())
    if not secrets:
        return value
    out: dict[str, Any] = redact_raw(value, secrets)
    return out
