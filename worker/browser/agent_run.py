"""A run with no cached code: every cacheable block by the agent's run_block, loops and
conditionals walked by the runtime, as an agent platform runs a workflow the first time.

For the stand-in agent's recordings (tests, benchmarks, the demo); its events come out of
worker/browser/emit.py like a replay's, with run_with "agent" and no script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from playwright.async_api import Page as PlaywrightPage

from worker.browser.agent import Agent
from worker.browser.context import BrowserRunContext
from worker.browser.journal import Journal, ReplayResult
from worker.browser.page import BrowserPage, ExtractorHook
from worker.domain.definition import CACHEABLE, Block, BlockKind, Definition


async def walk(ctx: BrowserRunContext, blocks: Sequence[Block]) -> None:
    for block in blocks:
        if block.kind is BlockKind.CONDITIONAL:
            chosen = await ctx.branch(block.label)
            if chosen >= 0:
                await walk(ctx, block.branches[chosen].blocks)
        elif block.kind is BlockKind.LOOP:
            over = (block.model_extra or {}).get("loop_over")
            values = ctx.param(over) if block.block_type == "for_loop" and over else None
            async for _ in ctx.loop(block.label, values):
                await walk(ctx, block.loop_blocks)
        elif block.block_type in CACHEABLE:
            await ctx.run_agent(block.label)
        else:
            await ctx.run_live(block.label)


async def run_with_agent(
    page: PlaywrightPage,
    definition: Definition,
    parameters: Mapping[str, Any],
    credentials: Mapping[str, Any],
    agent: Agent,
    *,
    extractor: ExtractorHook | None = None,
) -> ReplayResult:
    """Run the whole workflow with the agent on `page`; the result's records are the run."""
    journal = Journal()
    browser_page = BrowserPage(page, journal, agent=agent, extractor=extractor)
    ctx = BrowserRunContext(browser_page, definition, parameters, credentials)
    started_at, wall = journal.clock(), journal.wall_clock()
    try:
        await walk(ctx, definition.blocks)
    except Exception as exc:
        return journal.result(journal.clock() - started_at, exc, wall)
    return journal.result(journal.clock() - started_at, started_at=wall)
