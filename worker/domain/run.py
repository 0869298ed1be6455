"""A recorded workflow run as the decision and the generator see it (plain frozen values)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from worker.domain.definition import Definition

FAILED_RUN_STATUSES = frozenset({"failed", "terminated", "canceled", "timed_out"})


@dataclass(frozen=True)
class ElementRecord:
    """The element an action was performed on (actions[].element): its lower-case tag name,
    its text as worker/runtime/identity.py defines it, and the rest of what its recorder saw
    (`attributes`: id, name, label, form, landmark, near, index, ...; ARCHITECTURE.md §11)."""

    tag: str
    text: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, stored: Any) -> ElementRecord | None:
        """From its JSON form ({"tag", "text", ...}); None when absent or not of that shape."""
        if not isinstance(stored, Mapping) or not isinstance(stored.get("tag"), str):
            return None
        text = stored.get("text")
        attributes = {k: v for k, v in stored.items() if k not in ("tag", "text") and v is not None}
        return cls(stored["tag"], text if isinstance(text, str) else None, attributes)

    def stored(self) -> dict[str, Any]:
        """Its JSON form."""
        return {"tag": self.tag, "text": self.text, **self.attributes}


@dataclass(frozen=True)
class FieldRecord:
    """Where one scalar of a block's output was on the page (block_completed.page.fields):
    its path in the output, the element that showed it, and the attribute that held it
    (None: the element's text)."""

    path: tuple[str | int, ...]
    element: ElementRecord
    xpath: str | None = None
    attribute: str | None = None
    before: str | None = None  # the element's text around the value
    after: str | None = None


@dataclass(frozen=True)
class PageRecord:
    """The page when a block completed (block_completed.page)."""

    url: str | None = None
    title: str | None = None
    fields: tuple[FieldRecord, ...] = ()
    start_url: str | None = None  # the page's url when the block started

    @classmethod
    def of(cls, stored: Any) -> PageRecord | None:
        """From its JSON form; None when absent or not an object."""
        if not isinstance(stored, Mapping):
            return None
        url, title = stored.get("url"), stored.get("title")
        fields = []
        for item in stored.get("fields") or ():
            element = ElementRecord.of(item.get("element")) if isinstance(item, Mapping) else None
            path = item.get("path") if element is not None else None
            if element is None or not isinstance(path, list) or not path:
                continue
            text = {k: item.get(k) for k in ("xpath", "attribute", "before", "after")}
            fields.append(
                FieldRecord(
                    tuple(path), element, **{k: v for k, v in text.items() if isinstance(v, str)}
                )
            )
        start = stored.get("start_url")
        return cls(
            url if isinstance(url, str) else None,
            title if isinstance(title, str) else None,
            tuple(fields),
            start if isinstance(start, str) else None,
        )


@dataclass(frozen=True)
class ActionRecord:
    action_id: str
    action_type: str
    xpath: str | None = None
    intention: str | None = None
    reasoning: str | None = None
    text: str | None = None
    option: str | None = None
    parameter_key: str | None = None
    status: str | None = None
    source: str | None = None  # "code" | "agent"; None: the block's executed_with
    element: ElementRecord | None = None  # the element it was performed on, if recorded

    @property
    def skipped(self) -> bool:
        """The agent judged this action unnecessary: its element was absent."""
        return self.status == "skipped"


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    url: str | None = None
    navigation_goal: str | None = None
    data_extraction_goal: str | None = None
    extracted_information_schema: Any = None


@dataclass(frozen=True)
class BlockRun:
    """One executed block: a top-level block, a branch block, or a loop/task_v2 child."""

    workflow_run_block_id: str
    label: str
    block_type: str
    status: str
    executed_with: str
    parent_workflow_run_block_id: str | None = None
    loop_index: int | None = None
    loop_value: Any = None
    task: TaskRecord | None = None
    actions: tuple[ActionRecord, ...] = ()
    children: tuple[BlockRun, ...] = ()
    fallback: str = "none"  # "none" | "element" | "block" (ARCHITECTURE.md §8)
    output: Any = None  # block_completed.output: what the block extracted, or None
    page: PageRecord | None = None  # block_completed.page: the page when it completed

    @property
    def fell_back(self) -> bool:
        return self.fallback != "none"

    def descendants(self) -> Iterator[BlockRun]:
        stack = list(reversed(self.children))
        while stack:
            block = stack.pop()
            yield block
            stack.extend(reversed(block.children))


@dataclass(frozen=True)
class RunRecord:
    workflow_run_id: str
    workflow_permanent_id: str
    workflow_version: int
    definition: Definition
    parameters: Mapping[str, Any] = field(default_factory=dict)
    run_with: str = "agent"
    code_gen: bool = False
    status: str = "running"
    script: tuple[int, int] | None = None  # (script_id, version) the run executed, if any
    # Blocks without a parent (top level and conditional branches), in the order they ran.
    blocks: tuple[BlockRun, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status in FAILED_RUN_STATUSES

    def runs_of(self, label: str) -> list[BlockRun]:
        return list(self._by_label.get(label, ()))

    def completion_order(self) -> list[BlockRun]:
        """Every block run, in the order blocks complete: a loop's or task_v2's children
        (by iteration) before their container, top-level blocks in the order they ran."""
        out: list[BlockRun] = []

        def visit(block: BlockRun) -> None:
            for child in block.children:
                visit(child)
            out.append(block)

        for block in self.blocks:
            visit(block)
        return out

    def outputs_before(self) -> dict[str, dict[str, Any]]:
        """For each block run (by id): the latest output of every label completed before
        it, as `ctx.outputs` holds them when that block runs."""
        seen: dict[str, Any] = {}
        out: dict[str, dict[str, Any]] = {}
        for block in self.completion_order():
            out[block.workflow_run_block_id] = dict(seen)
            if block.output is not None:
                seen[block.label] = block.output
        return out

    @cached_property
    def _by_label(self) -> dict[str, list[BlockRun]]:
        index: dict[str, list[BlockRun]] = {}
        for block in self.blocks:
            index.setdefault(block.label, []).append(block)
        return index
