"""Orchestration of a list of definition blocks: cached calls, the agent, branches, live blocks.

Used for `run_workflow` and for the body of every loop.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence

from worker.domain.codegen.nodes import LINENO, awaited, ctx_call, literal, name
from worker.domain.definition import CACHEABLE, Block, BlockKind

# The statement running a cacheable block from cache, or None when it is not cached.
Resolve = Callable[[Block], ast.stmt | None]


def orchestrate(blocks: Sequence[Block], resolve: Resolve) -> list[ast.stmt]:
    """Statements running `blocks` in definition order."""
    out: list[ast.stmt] = []
    for block in blocks:
        if block.kind is BlockKind.CONDITIONAL:
            out.extend(_conditional(block, resolve))
        elif block.block_type in CACHEABLE:
            cached = resolve(block)
            out.append(cached if cached is not None else run_agent(block.label))
        else:
            out.append(awaited(ctx_call("run_live", literal(block.label))))
    return out


def run_agent(label: str) -> ast.stmt:
    return awaited(ctx_call("run_agent", literal(label)))


def _conditional(block: Block, resolve: Resolve) -> list[ast.stmt]:
    """`branch = await ctx.branch(label)` then one `if`/`elif branch == i` per branch.

    Every branch is compared explicitly (no bare `else`): an index the script does not know
    runs nothing rather than the last branch.
    """
    ask = ast.Assign(
        [ast.Name("branch", ast.Store())],
        ast.Await(ctx_call("branch", literal(block.label))),
        lineno=LINENO,
    )
    chain: list[ast.stmt] = []
    for index in reversed(range(len(block.branches))):
        test = ast.Compare(name("branch"), [ast.Eq()], [literal(index)])
        body = orchestrate(block.branches[index].blocks, resolve) or [ast.Pass()]
        chain = [ast.If(test, body, chain)]
    return [ask, *chain]
