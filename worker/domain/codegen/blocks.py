"""One code generator per cacheable BlockKind, keyed by kind.

Making a block type cacheable is one entry in worker.domain.definition.BLOCK_TYPES; a new *kind*
also needs its generator in GENERATORS below and its place in definition.CACHEABLE_KINDS
(tests/unit/test_block_registry.py holds the two to each other).
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from worker.domain.codegen.actions import NO_LOOP, ActionScope, statements
from worker.domain.codegen.expect import varying
from worker.domain.codegen.flow import orchestrate
from worker.domain.codegen.nodes import (
    LINENO,
    attr,
    awaited,
    block_function,
    call,
    call_block,
    ctx_call,
    identifier,
    literal,
    name,
)
from worker.domain.codegen.optional import optional_actions
from worker.domain.codegen.outcome import outcome_check
from worker.domain.codegen.reader import reads_of
from worker.domain.codegen.values import RunValues, mentions
from worker.domain.definition import Block, BlockKind, kind_of
from worker.domain.inputs import InputRecord
from worker.domain.run import BlockRun
from worker.secrets.seals import REDACTED

START_PAGE_INTENTION = "Open the block's start page"


@dataclass
class Generation:
    """What one generation shares: credential keys, parentless runs, counts of skips, and
    what recorded values bind to (the run's values, the definition's blocks, and for each
    block run the outputs of the blocks that completed before it)."""

    credential_keys: frozenset[str]
    loose: Mapping[str, Sequence[BlockRun]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    values: RunValues = field(default_factory=lambda: RunValues({}))
    totp_keys: frozenset[str] = frozenset()
    blocks: Mapping[str, Block] = field(default_factory=dict)
    outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    entered: list[InputRecord] = field(default_factory=list)  # in generation order

    def scope(self, run: BlockRun, loop_value: Any, mentioned: Block | None) -> ActionScope:
        """The scope of `run`'s actions: their loop value, and what their values bind to
        (`mentioned`: the definition block whose templates count as mentions)."""
        in_loop = loop_value is not NO_LOOP and loop_value is not None
        names = mentions([mentioned, self.blocks.get(run.label)])
        binder = self.values.binder(
            loop_value, in_loop, names, self.outputs.get(run.workflow_run_block_id, {})
        )
        extracts = [a.action_id for a in run.actions if a.action_type == "extract"]
        return ActionScope(
            self.credential_keys,
            run.task,
            loop_value,
            binder,
            run.label,
            self.totp_keys,
            self.entered,
            names,
            reads=reads_of(run),
            output=run.output,
            reader=extracts[-1] if extracts else None,
        )


@dataclass(frozen=True)
class BlockCode:
    functions: tuple[ast.AsyncFunctionDef, ...]  # module-level functions of the block file
    statement: ast.stmt  # the run signature: the one statement that runs the block from cache
    source: BlockRun  # the recorded run the code was made from


Generator = Callable[[Block, Sequence[BlockRun], Generation], BlockCode]


def generate_block(block: Block, runs: Sequence[BlockRun], gen: Generation) -> BlockCode:
    if not runs:
        raise ValueError(f"block {block.label!r}: no recorded run to generate from")
    return GENERATORS[block.kind](block, runs, gen)


def richest(runs: Sequence[BlockRun]) -> BlockRun:
    """Completed beats other statuses, a task beats no task, more actions beat fewer;
    the first recorded wins a tie."""
    return max(
        runs,
        key=lambda r: (
            r.status == "completed",
            r.task is not None,
            len(r.actions),
            sum(len(d.actions) for d in r.descendants()),
        ),
    )


def _loop_value(run: BlockRun, inherited: Any) -> Any:
    return run.loop_value if run.loop_index is not None else inherited


def start_page(url: str) -> ast.stmt:
    """Open the block's url; a Jinja template is rendered by the runtime."""
    target: ast.expr = literal(url)
    if "{{" in url or "{%" in url:
        target = ctx_call("render", target)
    goto = call(
        ast.Attribute(name("page"), "goto", ast.Load()),
        target,
        intention=literal(START_PAGE_INTENTION),
    )
    return awaited(goto)


def task_body(
    run: BlockRun,
    start_url: str | None,
    scope: ActionScope,
    gen: Generation,
    recorded_url: bool = False,
    others: Sequence[BlockRun] = (),
) -> list[ast.stmt]:
    """The start page (a definition url, rendered when a template; a recorded url, bound by
    value and never rendered), then the actions; `others` (a loop child's other iterations)
    tell which actions are optional."""
    body: list[ast.stmt] = []
    if start_url and recorded_url and REDACTED in start_url:
        gen.skipped["redacted:start_url"] += 1  # never a marker in code: the agent's page
    elif start_url and recorded_url:
        goto = call(
            attr("page", "goto"),
            scope.bind(start_url).expr,
            intention=literal(START_PAGE_INTENTION),
        )
        body.append(awaited(goto))
    elif start_url:
        body.append(start_page(start_url))
    optional = optional_actions(run, others)
    return body + statements(run.actions, scope, gen.skipped, optional, varying(run, others))


def task_like(block: Block, runs: Sequence[BlockRun], gen: Generation) -> BlockCode:
    """`@block(label) async def <name>(page, ctx)` replaying the richest run's actions; the
    other runs (a loop child's other iterations) tell which of its actions are optional."""
    run = richest(runs)
    function = identifier(block.label)
    scope = gen.scope(run, _loop_value(run, NO_LOOP), block)
    body = task_body(run, block.url, scope, gen, others=runs)
    others = [(o, gen.scope(o, _loop_value(o, NO_LOOP), block)) for o in runs if o is not run]
    if (check := outcome_check(run, scope, others)) is not None:
        body.append(check)
    return BlockCode((block_function(function, body, block.label),), call_block(function), run)


def task_v2(block: Block, runs: Sequence[BlockRun], gen: Generation) -> BlockCode:
    """A function calling one helper per recorded child, in order; helpers in the same file."""
    run = richest(runs)
    helpers: list[ast.AsyncFunctionDef] = []
    body = [start_page(block.url)] if block.url else []
    body += _children(block, block.label, run, gen, _loop_value(run, NO_LOOP), helpers)
    function = identifier(block.label)
    main = block_function(function, body, block.label)
    return BlockCode((main, *helpers), call_block(function), run)


def _children(
    owner: Block,
    key: str,
    run: BlockRun,
    gen: Generation,
    loop_value: Any,
    helpers: list[ast.AsyncFunctionDef],
) -> list[ast.stmt]:
    """Calls of helpers generated for a task_v2 run's children (which the definition lacks),
    each marked with the child's label and block type so that a replay records its calls as
    the task_v2's children (worker/browser/replay.py)."""
    calls: list[ast.stmt] = []
    for index, child in enumerate(run.children):
        # The child's name includes its parent's label and position: always hashed, never
        # equal to a definition label's name.
        function = identifier(f"{key}/{index}/{child.label}")
        value = _loop_value(child, loop_value)
        kind = kind_of(child.block_type)
        if kind is BlockKind.TASK_LIKE:
            url = child.task.url if child.task else None
            scope = gen.scope(child, value, owner)
            body = task_body(child, url, scope, gen, recorded_url=True)
            if (check := outcome_check(child, scope)) is not None:
                body.append(check)
        elif kind is BlockKind.TASK_V2:
            body = _children(owner, f"{key}/{index}/{child.label}", child, gen, value, helpers)
        else:
            gen.skipped[f"task_v2_child:{child.block_type}"] += 1
            continue
        helpers.append(block_function(function, body, child.label, child_type=child.block_type))
        calls.append(call_block(function))
    return calls


def loop(block: Block, runs: Sequence[BlockRun], gen: Generation) -> BlockCode:
    """`async for value in ctx.loop(label, values):` over the loop's children.

    Each child is generated from its richest run over all recorded iterations; a child that
    never ran is left to the agent. The statement lives only in run_workflow; the block file
    holds the children's functions.
    """
    pool: dict[str, list[BlockRun]] = {}
    for run in runs:
        for child in run.children:
            pool.setdefault(child.label, []).append(child)
    functions: list[ast.AsyncFunctionDef] = []

    def resolve(child: Block) -> ast.stmt | None:
        child_runs = pool.get(child.label) or gen.loose.get(child.label)
        if not child_runs:
            return None
        code = generate_block(child, child_runs, gen)
        functions.extend(code.functions)
        return code.statement

    body = orchestrate(block.loop_blocks, resolve) or [ast.Pass()]
    over = (block.model_extra or {}).get("loop_over")
    values: ast.expr = literal(None)  # while_loop: the runtime evaluates the condition
    if block.block_type == "for_loop" and isinstance(over, str) and over:
        values = ctx_call("credential" if over in gen.credential_keys else "param", literal(over))
    statement = ast.AsyncFor(
        ast.Name("value", ast.Store()),
        ctx_call("loop", literal(block.label), values),
        body,
        [],
        lineno=LINENO,
    )
    return BlockCode(tuple(functions), statement, richest(runs))


GENERATORS: dict[BlockKind, Generator] = {
    BlockKind.TASK_LIKE: task_like,
    BlockKind.TASK_V2: task_v2,
    BlockKind.LOOP: loop,
}
