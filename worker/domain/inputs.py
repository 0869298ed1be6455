"""What a cached block reads and what it types as recorded: its `script_blocks.input_fields`.

The column holds `{"keys": [...], "inputs": [...]}`: the parameter, credential and totp keys
the block's code reads (a replay must be given them), and one entry per value the block
types, selects, uploads, visits or presses, with the code that gives it and the references
that code reads; an entry reading none is a literal input, typed in every replay as it was
recorded (`scriptcache script show --inputs`). Rows written before the values issue hold the
list of keys only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InputRecord:
    """One value a cached block enters on the page."""

    block: str  # the label of the block (or task_v2 child) whose action it is
    action: str  # the Page method: fill, select_option, upload_file, goto, press
    selector: str | None  # the recorded selector (None for goto and key presses on focus)
    expression: str  # the code giving the value, e.g. "ctx.param('user')" or "'Enter'"
    sources: tuple[str, ...]  # the references that code reads; empty for a literal

    @property
    def literal(self) -> bool:
        return not self.sources

    def as_json(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "action": self.action,
            "selector": self.selector,
            "expression": self.expression,
            "sources": list(self.sources),
            "literal": self.literal,
        }

    @classmethod
    def from_json(cls, data: Any) -> InputRecord | None:
        if not isinstance(data, dict):
            return None
        sources = data.get("sources")
        return cls(
            str(data.get("block", "")),
            str(data.get("action", "")),
            data.get("selector") if isinstance(data.get("selector"), str) else None,
            str(data.get("expression", "")),
            tuple(str(s) for s in sources) if isinstance(sources, list) else (),
        )


def column(keys: Iterable[str], inputs: Iterable[InputRecord]) -> dict[str, Any]:
    """The `input_fields` value of a script_blocks row."""
    return {"keys": sorted(set(keys)), "inputs": [i.as_json() for i in inputs]}


def keys_of(value: Any) -> tuple[str, ...]:
    """The keys a row's code reads, from either shape of the column."""
    raw = value.get("keys") if isinstance(value, dict) else value
    return tuple(str(k) for k in raw) if isinstance(raw, list | tuple) else ()


def inputs_of(value: Any) -> tuple[InputRecord, ...]:
    """The recorded inputs of a row (none for rows of the older shape)."""
    raw = value.get("inputs") if isinstance(value, dict) else None
    if not isinstance(raw, list):
        return ()
    return tuple(r for r in (InputRecord.from_json(item) for item in raw) if r is not None)
