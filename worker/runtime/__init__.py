"""The runtime API generated scripts import: Page, RunContext and the `block` decorator.

A platform executes a cached script by importing its main.py and awaiting
`run_workflow(page, ctx)` with its own Page and RunContext; see docs/RUNTIME.md.
"""

from worker.runtime.context import InMemoryRunContext, RunContext
from worker.runtime.page import Call, Page, RecordingPage
from worker.runtime.registry import BlockFunction, block, blocks_of, child_of

__all__ = [
    "BlockFunction",
    "Call",
    "InMemoryRunContext",
    "Page",
    "RecordingPage",
    "RunContext",
    "block",
    "blocks_of",
    "child_of",
]
