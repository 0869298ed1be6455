"""The values generate_script takes and returns."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from worker.domain.decision import Entry
from worker.domain.errors import PermanentError
from worker.domain.inputs import InputRecord


class CodegenError(PermanentError):
    """The generated script failed validation; nothing is published."""


@dataclass(frozen=True)
class CarriedBlock:
    """An executable entry of the live revision, reused byte for byte."""

    entry: Entry
    code: str  # the exact text of that entry's blocks/<name>.py in the live revision


@dataclass(frozen=True)
class GeneratedBlock:
    label: str
    block_type: str
    run_signature: str | None  # None only for the orchestrator "__start_block__"
    code_sha256: str | None
    definition_sha256: str | None  # Block.sha256() in the run's definition; None for start
    source_workflow_run_id: str | None
    source_workflow_run_block_id: str | None
    input_fields: tuple[str, ...]  # parameter keys the block's code reads, sorted
    path: str | None  # "blocks/<name>.py", None for the orchestrator
    carried: bool
    inputs: tuple[InputRecord, ...] = ()  # each value the block enters, bound or literal

    def as_entry(self) -> Entry:
        """The `script_blocks` row as the decision sees it."""
        return Entry(
            label=self.label,
            block_type=self.block_type,
            run_signature=self.run_signature,
            code_sha256=self.code_sha256,
            definition_sha256=self.definition_sha256,
            source_workflow_run_id=self.source_workflow_run_id,
            source_workflow_run_block_id=self.source_workflow_run_block_id,
            input_fields=self.input_fields,
            inputs=self.inputs,
        )


@dataclass(frozen=True)
class GeneratedScript:
    files: dict[str, bytes]  # "main.py" and "blocks/<name>.py", sorted by path
    blocks: dict[str, GeneratedBlock]  # every cached label + "__start_block__"
    skipped: dict[str, int]  # counts of what was left out, e.g. {"unknown_action:foo": 2}
    content_sha256: str  # over the sorted (path, file sha256) list

    def carried(self, label: str) -> CarriedBlock:
        """This script's entry for `label` as the next generation carries it forward."""
        block = self.blocks[label]
        if block.path is None:
            raise KeyError(f"{label!r} has no block file")
        return CarriedBlock(block.as_entry(), self.files[block.path].decode("utf-8"))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_sha256(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path}\0{sha256_hex(files[path])}\n".encode())
    return digest.hexdigest()
