"""The RunContext of a browser replay: parameters, credentials, loops and branches.

Conditionals are decided here, from the workflow definition: the branch whose condition (a
Jinja expression over the run's parameters and the loop's current value) renders true, else
the branch without a condition. Blocks the script hands to the agent (`ctx.run_agent`) go to
the agent's `run_block` (worker/browser/agent.py), else to the platform's block hook, as do
blocks it runs live (`ctx.run_live`); with neither, they are skipped and the journal says so.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import jinja2

from worker.browser.agent import AgentFailed, BlockRequest, agent_actions
from worker.browser.journal import BlockRecord, Journal, Outcome, first_line
from worker.browser.page import BrowserPage, ReplayError
from worker.domain.definition import Block, BlockKind, Definition
from worker.runtime import InMemoryRunContext

Mode = Literal["agent", "live"]
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", "", "none"})


class BlockHook(Protocol):
    """The platform running one block the cached script cannot: by the agent, or live."""

    async def __call__(self, label: str, mode: Mode) -> None: ...


def truth(rendered: str) -> bool | None:
    """A rendered condition as a boolean, or None when it is neither true nor false."""
    text = rendered.strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


class BrowserRunContext(InMemoryRunContext):
    """worker.runtime.RunContext for a replay in a real browser."""

    def __init__(
        self,
        page: BrowserPage,
        definition: Definition,
        parameters: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        *,
        block_hook: BlockHook | None = None,
        loop_values: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        super().__init__(page, parameters, credentials, loop_values=loop_values)
        self.page: BrowserPage = page
        self.definition = definition
        self.journal: Journal = page.journal
        self._block_hook = block_hook
        self._known_loops = frozenset(loop_values or {})
        secret = definition.credential_keys()
        page.credentials = {k: v for k, v in self._credentials.items()}
        page.parameters = {k: v for k, v in self._parameters.items() if k not in secret}

    def totp(self, key: str) -> str:
        """The current one-time code; the page records an action typing it by `key`."""
        code = super().totp(key)
        self.page.one_time_codes[code] = key
        return code

    async def loop(self, label: str, values: Iterable[Any] | None) -> AsyncIterator[Any]:
        if values is None and label not in self._known_loops:
            raise ReplayError(
                f"loop {label!r}: its condition is evaluated by the agent; give its values"
            )
        items = None if values is None else loop_items(label, values)
        started_at = self.journal.started(label, self.current_index, loop_value=self.current_value)
        outer_index, fallbacks = self.current_index, len(self.journal.fallbacks)
        outcome: Outcome = "failed"
        try:
            async for value in super().loop(label, items):
                yield value
            outcome = "fallback" if len(self.journal.fallbacks) > fallbacks else "code"
        finally:
            self.journal.finished(label, outer_index, outcome, started_at)

    async def branch(self, label: str) -> int:
        self.events.append(("branch", label))
        block = self.definition.block(label)
        if block is None or block.kind is not BlockKind.CONDITIONAL:
            raise ReplayError(f"conditional {label!r} is not in the workflow definition")
        chosen = choose_branch(block, self.render)
        self.journal.decided(label, self.current_index, self.current_value, f"branch {chosen}")
        return chosen

    async def run_agent(self, label: str) -> None:
        await self._not_cached(label, "agent")

    async def run_live(self, label: str) -> None:
        await self._not_cached(label, "live")

    async def _not_cached(self, label: str, mode: Mode) -> None:
        self.events.append((f"run_{mode}", label))
        if mode == "agent" and self.page.agent is not None:
            started_at = self.journal.started(
                label, self.current_index, loop_value=self.current_value, url=self.page.page.url
            )
            record = self.journal.current
            assert record is not None
            try:
                await self.hand_to_agent(label, "not cached yet", record)
            except BaseException as exc:
                self.journal.finished(label, self.current_index, "failed", started_at, str(exc))
                raise
            self.journal.finished(label, self.current_index, "agent", started_at)
            return
        if self._block_hook is None:
            reason = "runs with the agent" if mode == "agent" else "runs live"
            self.journal.not_run(
                label, self.current_index, "skipped", f"{reason}: not replayable from the script"
            )
            return
        started_at = self.journal.started(label, self.current_index)
        try:
            await self._block_hook(label, mode)
        except BaseException as exc:
            self.journal.finished(label, self.current_index, "failed", started_at, str(exc))
            raise
        self.journal.finished(label, self.current_index, mode, started_at)

    async def hand_to_agent(
        self, label: str, reason: str, record: BlockRecord, *, keep: bool = False
    ) -> None:
        """The agent's run_block runs the whole block; its actions replace the record's (with
        `keep`, an agent that did nothing, judging the block done, leaves the script's, which
        all ran). Raises AgentFailed when it reports anything but completed."""
        agent = self.page.agent
        assert agent is not None
        block = self.definition.block(label)
        request = BlockRequest(
            label=label,
            block={} if block is None else block.model_dump(mode="json", exclude_unset=True),
            reason=reason,
            loop_index=self.current_index,
            loop_value=self.current_value,
            parameters=dict(self.page.parameters),
            credentials=dict(self._credentials),
        )
        record.executed_with = "agent"
        record.agent_calls += 1
        try:
            result = await agent.run_block(self.page.page, request)
        except Exception as exc:
            raise AgentFailed(f"block {label!r}: the agent failed: {first_line(exc)}") from exc
        if not isinstance(result, dict):
            raise AgentFailed(f"block {label!r}: run_block returned {type(result).__name__}")
        done = [
            self.page.keyed(a)
            for a in agent_actions(result.get("actions", []), what=f"run_block({label!r})")
        ]
        record.actions = done or (record.actions if keep else [])
        if "extracted" in result and result["extracted"] is not None:
            self.outputs[label] = result["extracted"]  # later blocks read ctx.outputs[label]
            record.extracted.append(result["extracted"])
            self.journal.extracted.append((label, self.current_index, result["extracted"]))
        if result.get("status", "completed") != "completed":
            raise AgentFailed(f"block {label!r}: the agent reports {result.get('status')!r}")
        record.page = await self.page.state()


def loop_items(label: str, values: Iterable[Any]) -> list[Any]:
    """A loop's values; a JSON array given as text (as some producers send) is decoded."""
    if isinstance(values, str):
        try:
            decoded = json.loads(values)
        except json.JSONDecodeError:
            decoded = None
        if not isinstance(decoded, list):
            raise ReplayError(f"loop {label!r}: expected a list of values, got text")
        return decoded
    if isinstance(values, Mapping):
        raise ReplayError(f"loop {label!r}: expected a list of values, got an object")
    return list(values)


def choose_branch(block: Block, render: Callable[[str], str]) -> int:
    """The index of the first branch whose condition renders true; the unconditioned branch
    otherwise; -1 when none applies (the script then runs no branch)."""
    for index, branch in enumerate(block.branches):
        if branch.condition is None or not branch.condition.strip():
            return index
        try:
            rendered = render(branch.condition)
        except jinja2.TemplateError as exc:
            raise ReplayError(
                f"conditional {block.label!r}: branch {index} condition "
                f"{branch.condition!r} cannot be evaluated here: {exc}"
            ) from None
        value = truth(rendered)
        if value is None:
            raise ReplayError(
                f"conditional {block.label!r}: branch {index} condition rendered "
                f"{rendered.strip()[:80]!r}, neither true nor false"
            )
        if value:
            return index
    return -1
