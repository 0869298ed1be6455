"""The runtime's Page on Playwright: recorded selectors first, the platform's agent after.

Each action looks its recorded selector up (an xpath when it starts with `/` or `(`, CSS
otherwise) and waits at most `selector_timeout_s` for it to be actionable. When that fails,
the agent's `act` (worker/browser/agent.py; or the older fallback hook) does that one action,
and the journal records that it fell back; with neither, SelectorNotFound names the block,
the action and the selector. An `optional` action waits only `optional_timeout_s` for its
element and, when it is absent, goes on without it and without the agent.

Before acting, the element the selector found is described (worker/runtime/identity.py, one
evaluate round trip). When the script `expect`s another element (another tag, or another
text), the selector counts as failed: the agent does the action (fallback "element"), an
optional action is skipped, and without an agent ElementMismatch names the block, the
selector and both descriptors. The descriptor is recorded with the action (`element`).

Before the agent, the runtime looks for the expected element elsewhere, when the recording
says more of it than its tag and text (`expect=(tag, text, {attributes})`, ARCHITECTURE.md
§11): while the selector designates nothing or another element, and once the page has
settled (loaded, its DOM unchanged for QUIET_MS), it gathers the page's visible candidates
(identity.py CANDIDATES_JS) and asks worker/runtime/matcher.py, which scores them, scopes
them to the recorded landmark and form, never takes the element the previous action was
performed on, and answers only when it is sure. It then acts there, without the agent, and
the block reports fallback "relocated" so that the run's events repair the cache. A missing
selector costs the full selector timeout only when the matcher is not sure (the element may
still come); otherwise the agent gets the action, or without one the error names the best
candidates with their scores.

Every action performed is recorded in the journal's running block, in the shape of an
event's actions item: the script's with `source: "code"`, the agent's with `source: "agent"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator
from playwright.async_api import Page as PlaywrightPage
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from worker.browser.agent import ActRequest, Agent, agent_actions
from worker.browser.chromium import NAVIGATION_TIMEOUT_S
from worker.browser.journal import FallbackRecord, Journal, Relocation, first_line
from worker.domain.errors import PermanentError
from worker.runtime.identity import (
    CANDIDATES_JS,
    DESCRIBED_JS,
    FOUND_JS,
    MARK_JS,
    OBSERVE_JS,
    QUIET_MS,
    TAG_NAME,
    descriptor,
    matches,
    record,
    shown,
)
from worker.runtime.matcher import IDENTIFYING, Match, match
from worker.runtime.outcome import outcome_problem
from worker.runtime.page import Expected
from worker.runtime.reader import PLACES_JS, READ_JS, same_element, value_of, wanted

DEFAULT_SELECTOR_TIMEOUT_S = 5.0
DEFAULT_OPTIONAL_TIMEOUT_S = 1.0
POLL_S = 0.1  # how often a missing element is looked for again
START_PAGE_INTENTION = "Open the block's start page"  # worker.domain.codegen.blocks: not an action
# The runtime method → the action_type it is recorded as.
ACTION_TYPES = {
    "click": "click",
    "fill": "input_text",
    "select_option": "select_option",
    "upload_file": "upload_file",
    "hover": "hover",
    "press": "keypress",
    "scroll": "scroll",
    "download": "download_file",
    "goto": "goto_url",
    "wait": "wait",
    "extract": "extract",
    "solve_captcha": "solve_captcha",
}
PAGE_TEXT_CHARS = 2000
_KEYS = {
    "enter": "Enter",
    "return": "Enter",
    "tab": "Tab",
    "escape": "Escape",
    "esc": "Escape",
    "backspace": "Backspace",
    "space": "Space",
}


class ReplayError(PermanentError):
    """A cached script could not be replayed."""


class SelectorNotFound(ReplayError):
    """A recorded selector was not found in time and no fallback hook was given."""


class NoSelector(ReplayError):
    """The action was recorded without a selector; only an agent can do it."""


class ExtractorMissing(ReplayError):
    """The script extracts data but no extractor hook was given."""


class ElementMismatch(ReplayError):
    """The recorded selector found another element than the recording's (another tag, or
    another text): acting on it would click or type into the wrong element."""


class OutcomeFailed(ReplayError):
    """A block's actions ran but the page is not where its recorded run ended (its outcome
    check, ARCHITECTURE.md §12): a rejected login, an error page. The block failed."""


class ActionFailed(ReplayError):
    """The agent could not do an action the script's selector could not: the block is handed
    to the agent whole."""


class FallbackHook(Protocol):
    """The platform's agent doing one action the recorded selector could not."""

    async def __call__(
        self,
        label: str | None,
        action_name: str,
        selector: str | None,
        intention: str | None,
        error: Exception,
        *,
        value: Any,
    ) -> None: ...


class ExtractorHook(Protocol):
    """Reads structured data off the page for an `extract` action."""

    async def __call__(
        self, page: PlaywrightPage, goal: str | None, schema: Any, intention: str | None
    ) -> Any: ...


async def page_text(
    page: PlaywrightPage, goal: str | None, schema: Any, intention: str | None
) -> Any:
    """An extractor without a model: the page's url and visible text, for the operator."""
    text = await page.locator("body").inner_text()
    return {"url": page.url, "text": text[:PAGE_TEXT_CHARS]}


async def title_of(page: PlaywrightPage) -> str | None:
    """The page's title; None while a navigation replaces its document."""
    try:
        return await page.title()
    except PlaywrightError:
        return None


async def page_state(
    page: PlaywrightPage,
    output: Any = None,
    start_url: str | None = None,
    seen: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """The page as a block leaves it (block_completed.page): its url and title, and where it
    shows each top-level scalar of `output` (worker/runtime/reader.py PLACES_JS), what the next
    generation's reader reads. For producers too (tests/realapp's recorder). `seen`: a url and
    the title just read at it, used while the page is still there."""
    title = seen[1] if seen is not None and seen[0] == page.url else await title_of(page)
    state: dict[str, Any] = {"url": page.url, "title": title, "start_url": start_url}
    if values := wanted(output):
        try:
            found = await page.evaluate(PLACES_JS, {"values": values})
        except PlaywrightError:
            found = []
        state["fields"] = [
            {
                "path": [place["key"]],
                "xpath": place["xpath"],
                "element": place["element"],
                "attribute": place.get("attribute"),
                "before": place["before"] or None,
                "after": place["after"] or None,
            }
            for place in found
        ]
    return state


def playwright_selector(selector: str) -> str:
    """A recorded selector in Playwright's syntax: `xpath=` for xpaths, CSS as it is."""
    return f"xpath={selector}" if selector.startswith(("/", "(")) else selector


async def press_focused(page: PlaywrightPage, name: str) -> None:
    """Press a key on whatever has focus; a locator's press waits for a navigation it
    starts, the keyboard's does not."""
    focused = page.locator(":focus")
    if await focused.count():
        await focused.first.press(name)
    else:
        await page.keyboard.press(name)


def key_name(key: Any) -> str:
    text = str(key)
    return _KEYS.get(text.strip().lower(), text)


Perform = Callable[[Locator, float], Awaitable[None]]
T = TypeVar("T")


async def on_first(locator: Locator, js: str, *, mark: bool = False) -> list[Any]:
    """`js` (a function of one element) evaluated on the element the locator designates now:
    `[its result]`, or `[]` when it designates none. One round trip, without waiting;
    `Locator.evaluate` waits for the element and costs three (wait, evaluate on a handle,
    dispose of the handle). With `mark`, first marks the element noted before the last action
    as the one it was performed on (identity.py MARK_JS)."""
    found = await locator.evaluate_all(
        f"(els, mark) => {{ ({MARK_JS})(mark); return els.slice(0, 1).map(el => ({js})(el)); }}",
        mark,
    )
    return found if isinstance(found, list) else []


# Playwright's checks before a click, read at once: the element is visible and enabled, its
# click point (the centre of its first box, as Playwright computes it) lies in the viewport,
# and a click there hits the element itself or something inside it (nothing covers it). In a
# frame nothing outside the frame can be seen from here, so the answer is then no.
CLICKABLE_NOW_JS = """el => {
  if (window !== window.top || !el.isConnected || !el.checkVisibility()) return false;
  if (el.matches(':disabled')) return false;
  const box = Array.from(el.getClientRects()).find(r => r.width * r.height > 0.99);
  if (!box || box.left < 0 || box.top < 0 || box.right > innerWidth
      || box.bottom > innerHeight) return false;
  const root = el.getRootNode();
  const hit = (root.elementFromPoint ? root : document).elementFromPoint(
    box.left + box.width / 2, box.top + box.height / 2);
  return !!hit && (hit === el || el.contains(hit));
}"""


async def click_once(locator: Locator, ms: float) -> None:
    """Click once the element is actionable within the selector timeout `ms`; the click
    itself then waits for the navigation it starts up to the navigation timeout. A form post
    that a loaded server answers late is not a missing element: handing that click to the
    agent would submit the form twice.

    Actionable is Playwright's trial click (its checks alone, waiting up to `ms`), unless
    CLICKABLE_NOW_JS says at once that the element can be clicked: one evaluate instead of
    the trial's waits for animation frames (about 50 ms a click on the real-app replay)."""
    if await on_first(locator, CLICKABLE_NOW_JS) != [True]:
        await locator.click(trial=True, timeout=ms)
    await locator.click(force=True, timeout=max(ms, NAVIGATION_TIMEOUT_S * 1000))


def scrubbed(element: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    """A recorded element without the attributes that hold one of `secrets` (its text is
    kept as null)."""
    out: dict[str, Any] = {}
    for key, value in element.items():
        if any(secret in repr(value) for secret in secrets):
            if key == "text":
                out[key] = None
            continue
        out[key] = value
    return out


def action_item(
    method: str, selector: str | None, intention: str | None, value: Any = None, **fields: Any
) -> dict[str, Any]:
    """A runtime call in the shape of an event's actions item."""
    kind = ACTION_TYPES.get(method, method)
    text = option = None
    if kind == "select_option":
        option = value if isinstance(value, str) or value is None else ",".join(map(str, value))
    elif value is not None:
        text = (
            value
            if isinstance(value, str)
            else (",".join(map(str, value)) if isinstance(value, list | tuple) else str(value))
        )
    return {
        "action_type": kind,
        "xpath": selector,
        "intention": intention,
        "text": text,
        "option": option,
        "parameter_key": None,
        **fields,
    }


class BrowserPage:
    """worker.runtime.Page on a Playwright page."""

    def __init__(
        self,
        page: PlaywrightPage,
        journal: Journal,
        *,
        fallback: FallbackHook | None = None,
        extractor: ExtractorHook | None = None,
        selector_timeout_s: float = DEFAULT_SELECTOR_TIMEOUT_S,
        downloads_dir: Path | None = None,
        agent: Agent | None = None,
        optional_timeout_s: float = DEFAULT_OPTIONAL_TIMEOUT_S,
        relocate: bool = True,
    ) -> None:
        self.page = page
        self.journal = journal
        self.agent = agent
        self.parameters: dict[str, Any] = {}  # non-credential values, for agent requests
        self.credentials: dict[str, Any] = {}  # recorded by key, never by value
        # One-time codes ctx.totp gave in this run (code → totp key): recorded by key too, so
        # a script generated from this run computes the code again instead of typing it.
        self.one_time_codes: dict[str, str] = {}
        self._fallback = fallback
        self._extractor = extractor
        self._timeout_ms = selector_timeout_s * 1000
        self._optional_ms = optional_timeout_s * 1000
        self._downloads_dir = downloads_dir
        self._relocation_on = relocate  # look for a moved element before the agent
        self._previous_selector: str | None = None  # of the last action performed by code
        self._previous_record: dict[str, Any] | None = None  # and its recorded element
        self._watching = False  # OBSERVE_JS runs on every new document
        # An action was performed since the page was last read: the next read marks the
        # element noted before it as the one acted on (identity.py MARK_JS).
        self._acted = False
        # The url and title the block's outcome check just read (nothing done since): the
        # block's page state takes them instead of reading the title again.
        self._checked: tuple[str, str | None] | None = None

    async def goto(self, url: str, *, intention: str | None) -> None:
        if not self._watching and self._relocation_on:
            self._watching = True
            await self.page.add_init_script(f"({OBSERVE_JS})()")
        await self.page.goto(str(url), wait_until="load")
        if intention != START_PAGE_INTENTION:  # the block's own url is not an action
            self._record("goto", None, intention, str(url))

    async def click(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        await self._act("click", selector, intention, click_once, optional=optional, expect=expect)
        await self._settle()

    async def fill(
        self,
        selector: str | None,
        value: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        text = "" if value is None else str(value)
        await self._act(
            "fill",
            selector,
            intention,
            lambda loc, ms: loc.fill(text, timeout=ms),
            value=text,
            optional=optional,
            expect=expect,
        )

    async def select_option(
        self,
        selector: str | None,
        value: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        options = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)

        async def select(locator: Locator, ms: float) -> None:
            await locator.select_option(options, timeout=ms)

        await self._act(
            "select_option",
            selector,
            intention,
            select,
            value=options,
            optional=optional,
            expect=expect,
        )

    async def upload_file(
        self,
        selector: str | None,
        path: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        files = [str(p) for p in path] if isinstance(path, list | tuple) else str(path)
        await self._act(
            "upload_file",
            selector,
            intention,
            lambda loc, ms: loc.set_input_files(files, timeout=ms),
            value=files,
            optional=optional,
            expect=expect,
        )

    async def hover(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        await self._act(
            "hover",
            selector,
            intention,
            lambda loc, ms: loc.hover(timeout=ms),
            optional=optional,
            expect=expect,
        )

    async def press(
        self,
        selector: str | None,
        key: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        name = key_name(key)
        if selector is None:  # the agent pressed the key on whatever had focus
            await press_focused(self.page, name)
            self._record("press", None, intention, str(key))
        else:
            await self._act(
                "press",
                selector,
                intention,
                lambda loc, ms: loc.press(name, timeout=ms),
                value=name,
                optional=optional,
                expect=expect,
            )
        await self._settle()

    async def scroll(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        if selector is None:
            await self.page.mouse.wheel(0, 600)
            self._record("scroll", None, intention)
            return
        await self._act(
            "scroll",
            selector,
            intention,
            lambda loc, ms: loc.scroll_into_view_if_needed(timeout=ms),
            optional=optional,
            expect=expect,
        )

    async def wait(self, seconds: float | None, *, intention: str | None) -> None:
        if seconds is None:
            await self.page.wait_for_load_state("load")
        else:
            await asyncio.sleep(seconds)
        self._record("wait", None, intention, None if seconds is None else str(seconds))

    async def expect_outcome(self, *, path: str | None = None, title: str | None = None) -> None:
        """Wait up to the selector timeout for the page to be at `path` with `title`
        (worker/runtime/outcome.py); OutcomeFailed names the block and what differs."""
        deadline = time.monotonic() + self._timeout_ms / 1000
        while True:
            seen = await self.title() if title is not None else None  # the url is at hand
            problem = outcome_problem(path, title, self.page.url, seen)
            if problem is None:
                self._checked = None if title is None else (self.page.url, seen)
                return
            if time.monotonic() >= deadline:
                label = self.journal.current_label
                raise OutcomeFailed(f"block {label!r} did not do its job: {problem}")
            await asyncio.sleep(POLL_S)

    async def title(self) -> str | None:
        return await title_of(self.page)

    async def state(self, places: bool = True) -> dict[str, Any]:
        """The page as the running block leaves it (block_completed.page, `page_state`); with
        `places`, where the page shows what the block extracted last."""
        record = self.journal.current
        output = record.extracted[-1] if places and record and record.extracted else None
        checked, self._checked = self._checked, None
        return await page_state(self.page, output, None if record is None else record.url, checked)

    async def read(
        self, fields: Mapping[str, Any], goal: str | None, schema: Any, *, intention: str | None
    ) -> dict[str, Any]:
        """The block's output read off today's page by its reader (worker/runtime/reader.py):
        each field's element found by the matcher (worker/runtime/matcher.py; never by its
        position alone), its text turned into the value. Fields it cannot read go to the
        extractor hook (the agent's extractor; the block then reports fallback "element") or,
        without one, are null and reported in the result (`unread`)."""
        out: dict[str, Any] = {}
        unread: list[str] = []
        candidates: dict[str, list[Any] | None] = {}
        specs = {k: v for k, v in fields.items() if isinstance(v, Mapping)}
        xpaths = [s["selector"] for s in specs.values() if isinstance(s.get("selector"), str)]
        at = dict(zip(xpaths, await self._read_at(xpaths), strict=True))
        moved = False
        for key in fields:
            value, found_elsewhere = None, False
            if key in specs:
                value, found_elsewhere = await self._read_field(specs[key], at, candidates)
            out[key], moved = value, moved or found_elsewhere
            if value is None:
                unread.append(key)
        record = self.journal.current
        if moved and record is not None and record.fallback == "none":
            record.fallback = "relocated"  # the run's events teach the reader the new place
        if unread and self._extractor is not None:
            extracted = await self._extractor(self.page, goal, schema, intention)
            if isinstance(extracted, Mapping):
                out.update({k: extracted.get(k) for k in unread})
            if record is not None:
                record.fallback = (
                    "element" if record.fallback in ("none", "relocated") else record.fallback
                )
                record.agent_calls += 1
            unread = [k for k in unread if out[k] is None]
        label = self.journal.current_label
        self.journal.extracted.append((label, self.journal.loop_index, out))
        if unread:
            self.journal.unread.append((label, self.journal.loop_index, tuple(unread)))
        if record is not None:
            record.extracted.append(out)
            record.extraction = (goal, schema)
            record.unread = tuple(unread)
        self._record("extract", None, intention)
        return out

    async def _read_field(
        self,
        spec: Mapping[str, Any],
        at: Mapping[str, Any],
        candidates: dict[str, list[Any] | None],
    ) -> tuple[Any, bool]:
        """One field and whether it was found elsewhere than at its selector: the element at
        the recorded selector (`at`: what READ_JS saw there) when it is the recorded one
        (`same_element`), else where the matcher is sure it is; None when neither."""
        element = record(spec.get("expect"))
        if element is None:
            return None, False
        seen = at.get(spec.get("selector") or "")
        if seen is not None and not same_element(element, seen["element"]):
            seen = None
        moved = seen is None
        if seen is None:
            tag = element["tag"]
            if tag not in candidates:
                candidates[tag] = await self._candidates(tag, quiet_ms=0)
            chosen = match(element, candidates[tag] or [], previous_allowed=True)
            seen = None if chosen.xpath is None else (await self._read_at([chosen.xpath]))[0]
        if seen is None:
            return None, False
        text = seen["value"] if spec.get("attribute") == "value" else seen["element"].get("text")
        return value_of(text, spec), moved

    async def _read_at(self, xpaths: list[str]) -> list[dict[str, Any] | None]:
        """What READ_JS sees at each xpath (None: nothing there), in one round trip."""
        if not xpaths:
            return []
        try:
            seen = await self.page.evaluate(READ_JS, xpaths)
        except PlaywrightError:
            return [None] * len(xpaths)
        return [
            s if isinstance(s, dict) and isinstance(s.get("element"), dict) else None for s in seen
        ]

    async def extract(self, goal: str | None, schema: Any, *, intention: str | None) -> Any:
        label = self.journal.current_label
        if self._extractor is None:
            raise ExtractorMissing(
                f"block {label!r}: extract ({goal or intention!r}) needs an extractor hook"
            )
        value = await self._extractor(self.page, goal, schema, intention)
        self.journal.extracted.append((label, self.journal.loop_index, value))
        if self.journal.current is not None:
            self.journal.current.extracted.append(value)
            self.journal.current.extraction = (goal, schema)  # a task_v2 child's task
        self._record("extract", None, intention)
        return value

    async def download(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        async def download(locator: Locator, ms: float) -> None:
            async with self.page.expect_download(timeout=ms) as info:
                await locator.click(timeout=ms)
            done = await info.value
            if self._downloads_dir is not None:
                await done.save_as(self._downloads_dir / done.suggested_filename)

        await self._act("download", selector, intention, download, optional=optional, expect=expect)

    async def solve_captcha(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        await self._fall_back(
            "solve_captcha", selector, intention, NoSelector("a captcha needs the agent"), None
        )

    async def _act(
        self,
        action: str,
        selector: str | None,
        intention: str | None,
        perform: Perform,
        value: Any = None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        """Find the element, check it is the one expected, act; else find where it moved
        (the matcher), else the agent (an optional action: skipped)."""
        if selector is None:
            await self._fall_back(
                action,
                None,
                intention,
                NoSelector(f"{action} was recorded without a selector"),
                value,
            )
            return
        locator = self.page.locator(playwright_selector(selector)).first
        if optional and not await self._present(locator):
            self._record(action, selector, intention, value, status="skipped")
            return
        wanted, element = descriptor(expect), record(expect)
        if not optional and element is not None and self._relocatable(element):
            await self._act_or_relocate(action, selector, intention, perform, value, element)
            return
        try:
            found = await self._describe(locator)
            seen = descriptor(found) or ("", None)
            if wanted is not None and not matches(seen, wanted):
                if optional:  # another element is there: the one expected is absent
                    self._record(action, selector, intention, value, status="skipped")
                    return
                raise ElementMismatch(
                    f"the element at {selector} is {shown(seen)}, the "
                    f"recording's was {shown(wanted)}"
                )
            await self._perform(locator, selector, perform, record(expect))
        except (PlaywrightTimeoutError, ElementMismatch) as exc:
            await self._fall_back(action, selector, intention, exc, value)
            return
        self._record(action, selector, intention, value, element=found)

    def _relocatable(self, element: dict[str, Any]) -> bool:
        """Whether a moved element may be looked for: relocation on, and a recording that
        says more of the element than its tag and text (a text is what a decoy copies)."""
        return (
            self._relocation_on
            and bool(TAG_NAME.fullmatch(element["tag"]))
            and any(element.get(a) is not None for a in IDENTIFYING)
        )

    async def _act_or_relocate(
        self,
        action: str,
        selector: str,
        intention: str | None,
        perform: Perform,
        value: Any,
        element: dict[str, Any],
    ) -> None:
        """Act at the selector when it designates the recorded element; else where the
        matcher finds it (worker/runtime/matcher.py), without the agent, reported as
        "relocated"; else the agent, or without one a stop naming the best candidates."""
        locator = self.page.locator(playwright_selector(selector)).first
        found, moved, stale = await self._locate(locator, selector, element)
        wanted = (element["tag"], element["text"])
        if found is not None and not stale and matches(descriptor(found) or ("", None), wanted):
            try:
                await self._perform(locator, selector, perform, element)
            except PlaywrightTimeoutError as exc:
                await self._fall_back(action, selector, intention, exc, value)
                return
            self._record(action, selector, intention, value, element=found)
            return
        if (
            moved is not None
            and moved.xpath is not None
            and await self._relocate(action, selector, intention, perform, value, moved, element)
        ):
            return
        refused = "" if moved is None else f"; matcher: {moved.describe()}"
        if stale:
            error: Exception = PlaywrightTimeoutError(
                "the page did not move on: the selector still designates the element the "
                f"previous action was performed on{refused}"
            )
        elif found is not None:
            error = ElementMismatch(
                f"the element at {selector} is {shown(descriptor(found) or ('', None))}, the "
                f"recording's was {shown(wanted)}{refused}"
            )
        else:
            error = PlaywrightTimeoutError(
                f"no element at the selector{refused or '; the page never settled'}"
            )
        await self._fall_back(action, selector, intention, error, value)

    async def _locate(
        self, locator: Locator, selector: str, element: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, Match | None, bool]:
        """Wait, up to the selector timeout, until the selector designates the recorded
        element (→ its description, None, False) or, on a page that has settled, the matcher
        is sure where it moved (→ ..., the match, ...). At the timeout: what the selector
        designates (or None), the matcher's last answer (None when the page never settled),
        and whether the selector designated the previous action's element (`stale`). So a
        missing selector costs the full timeout only when the matcher is not sure, and the
        element of the previous action is never acted on again for another recorded one:
        a page that has not moved on yet is waited for."""
        wanted = (element["tag"], element["text"])
        allowed = selector == self._previous_selector and element == self._previous_record
        deadline = time.monotonic() + self._timeout_ms / 1000
        found: dict[str, Any] | None = None
        moved: Match | None = None
        stale = False
        while True:
            found, stale = None, False
            with contextlib.suppress(PlaywrightError):  # a navigation under the evaluate
                for seen in await self._first(locator, FOUND_JS):
                    found, stale = seen["element"], bool(seen["previous"]) and not allowed
            same = found is not None and matches(descriptor(found) or ("", None), wanted)
            if same and not stale:
                return found, None, False
            candidates = await self._candidates(element["tag"])
            if candidates is not None:
                moved = match(element, candidates, previous_allowed=allowed)
                if moved.xpath is not None:
                    return found, moved, stale
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(POLL_S)
        # The full timeout was waited: the page had its time, settled or not.
        candidates = await self._candidates(element["tag"], quiet_ms=0)
        if candidates is not None:
            moved = match(element, candidates, previous_allowed=allowed)
        return found, moved, stale

    async def _candidates(self, tag: str, quiet_ms: float = QUIET_MS) -> list[Any] | None:
        """The page's visible candidates (CANDIDATES_JS), or None while it has not settled
        (or navigates under the evaluate)."""
        if not self._watching:  # from the next document on, its changes are watched from its start
            self._watching = True
            with contextlib.suppress(PlaywrightError):
                await self.page.add_init_script(f"({OBSERVE_JS})()")
        args = {"tag": tag, "quietMs": quiet_ms}
        try:
            found = await self._marking(
                lambda mark: self.page.evaluate(CANDIDATES_JS, {**args, "mark": mark})
            )
        except PlaywrightError:
            return None
        return found if isinstance(found, list) else None

    async def _relocate(
        self,
        action: str,
        selector: str,
        intention: str | None,
        perform: Perform,
        value: Any,
        moved: Match,
        element: dict[str, Any],
    ) -> bool:
        """Act on the element the matcher found, at its xpath, without the agent. The block
        reports fallback "relocated": the failed attempt, then the action at the new xpath,
        so that the run's events repair the cache. False when acting on it failed (or it
        changed since it was scored): the agent's turn."""
        assert moved.xpath is not None
        chosen = moved.ranked[0].candidate
        locator = self.page.locator(playwright_selector(moved.xpath)).first
        try:
            found = await self._describe(locator)
            if descriptor(found) != descriptor(chosen):
                return False
            await self._perform(locator, selector, perform, element)
        except PlaywrightTimeoutError:
            return False
        self.journal.relocations.append(
            Relocation(self.journal.current_label, action, selector, moved.xpath, intention)
        )
        record_ = self.journal.current
        if record_ is not None and record_.fallback == "none":
            record_.fallback = "relocated"
        self._record(action, selector, intention, value, status="failed")
        self._record(action, moved.xpath, intention, value, element=found)
        return True

    async def _perform(
        self,
        locator: Locator,
        selector: str,
        perform: Perform,
        element: dict[str, Any] | None = None,
    ) -> None:
        """Act on the element the last read noted; the next read marks it as the one this
        action was performed on (the matcher never takes it for the next action's)."""
        self._acted = True
        self._previous_selector, self._previous_record = selector, element
        await perform(locator, self._timeout_ms)

    async def _describe(self, locator: Locator, timeout_ms: float | None = None) -> dict[str, Any]:
        """The element as DESCRIBE_JS records it (worker/runtime/identity.py), in one round
        trip when it is attached; else waits up to the selector timeout for it."""
        now = await self._first(locator, DESCRIBED_JS)
        raw = (
            now[0]
            if now
            else await self._marking(
                lambda mark: locator.evaluate(
                    f"(el, mark) => {{ ({MARK_JS})(mark); return ({DESCRIBED_JS})(el); }}",
                    mark,
                    timeout=self._timeout_ms if timeout_ms is None else timeout_ms,
                )
            )
        )
        return raw if isinstance(raw, dict) and descriptor(raw) else {"tag": "", "text": None}

    async def _first(self, locator: Locator, js: str) -> list[Any]:
        """`on_first`, through `_marking`."""
        return await self._marking(lambda mark: on_first(locator, js, mark=mark))

    async def _marking(self, read: Callable[[bool], Awaitable[T]]) -> T:
        """A read of the page that first marks the last action's element (MARK_JS) when an
        action was performed since the last read; the mark is made once the read returned."""
        found = await read(self._acted)
        self._acted = False
        return found

    async def _present(self, locator: Locator) -> bool:
        """An optional action's element, waited for briefly."""
        try:
            await locator.wait_for(state="visible", timeout=self._optional_ms)
        except PlaywrightTimeoutError:
            return False
        return True

    def _record(
        self,
        method: str,
        selector: str | None,
        intention: str | None,
        value: Any = None,
        *,
        status: str = "completed",
        source: str = "code",
        element: dict[str, Any] | None = None,
    ) -> None:
        self._checked = None  # an action since the outcome check
        fields: dict[str, Any] = {"status": status, "source": source}
        if element is not None:  # what the action was performed on (actions[].element)
            fields["element"] = element
        self.journal.action(self.keyed(action_item(method, selector, intention, value, **fields)))

    def keyed(self, item: dict[str, Any]) -> dict[str, Any]:
        """An action whose typed value is a credential's, recorded by the credential's key
        (whether or not the agent said so), never with the value."""
        element = item.get("element")
        secrets = [s for s in self.credentials.values() if isinstance(s, str) and s]
        if isinstance(element, dict) and secrets:  # never a secret's value in what it saw
            item = {**item, "element": scrubbed(element, secrets)}
        for key, secret in sorted(self.credentials.items()):
            if (
                isinstance(secret, str)
                and secret
                and secret in (item.get("text"), item.get("option"))
            ):
                return {**item, "text": None, "option": None, "parameter_key": key}
        typed = item.get("text")
        if isinstance(typed, str) and typed in self.one_time_codes:
            return {
                **item,
                "text": None,
                "option": None,
                "parameter_key": self.one_time_codes[typed],
            }
        return item

    async def _fall_back(
        self,
        action: str,
        selector: str | None,
        intention: str | None,
        error: Exception,
        value: Any,
    ) -> None:
        """Hand the action to the platform's agent (or fallback hook), with the value it was
        to type, select, upload or press (a credential included: the hook is the platform's
        agent). The journal's FallbackRecord keeps no value; the block's record lists the
        failed attempt and what the agent did instead."""
        label = self.journal.current_label
        if self.agent is None and self._fallback is None:
            if isinstance(error, ElementMismatch):
                raise ElementMismatch(
                    f"block {label!r}: {action} (intention: {intention!r}): {error}"
                ) from error
            waited = self._timeout_ms / 1000
            what = (
                f"{action} on {selector!r} failed after {waited:g} s"
                if selector
                else f"{action} has no recorded selector"
            )
            raise SelectorNotFound(
                f"block {label!r}: {what} (intention: {intention!r}): {first_line(error)}"
            ) from error
        self.journal.fallbacks.append(
            FallbackRecord(label, action, selector, intention, first_line(error))
        )
        record = self.journal.current
        if record is not None:
            if record.fallback in ("none", "relocated"):
                record.fallback = "element"
            record.agent_calls += 1
        self._record(action, selector, intention, value, status="failed")
        if self.agent is None:
            assert self._fallback is not None
            await self._fallback(label, action, selector, intention, error, value=value)
            self._record(action, None, intention, value, source="agent")
            return
        await self._ask_agent(action, selector, intention, error, value)

    async def _ask_agent(
        self, action: str, selector: str | None, intention: str | None, error: Exception, value: Any
    ) -> None:
        assert self.agent is not None
        record = self.journal.current
        request = ActRequest(
            label=self.journal.current_label,
            action=action,
            selector=selector,
            intention=intention,
            value=value,
            error=first_line(error),
            loop_index=self.journal.loop_index,
            loop_value=None if record is None else record.loop_value,
            parameters=dict(self.parameters),
        )
        try:
            done = agent_actions(
                await self.agent.act(self.page, request), what=f"act({action} {selector!r})"
            )
        except Exception as exc:
            raise ActionFailed(
                f"block {request['label']!r}: the agent could not {action} "
                f"({intention!r}): {first_line(exc)}"
            ) from exc
        if not done:  # nothing had to be done: the action is listed as skipped by the agent
            self._record(action, selector, intention, value, status="skipped", source="agent")
        for item in done:
            self.journal.action(self.keyed(item))
        await self._settle()

    async def _settle(self) -> None:
        """Let a navigation the action started finish before the next action looks."""
        await self.page.wait_for_load_state("load")
