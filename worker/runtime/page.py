"""The page a generated script drives, and an in-memory twin that records every call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

# What an action expects of its element: (lower-case tag, text or None), or (tag, text,
# {attributes}) when the recording has more of it (id, name, label, form, landmark, ...), from
# the recording's actions[].element (worker/runtime/identity.py); None: no expectation.
Expected = tuple[str, Any] | tuple[str, Any, Mapping[str, Any]] | None


class Page(Protocol):
    """Browser actions a cached script performs.

    Every action takes the selector the agent used (an xpath, or None when it recorded none)
    and the action's intention, so a runtime can fall back to an agent for that one action.
    An action on an element may be `optional`: the runtime waits briefly for the element and
    goes on without it, and without the agent, when it is absent. It may `expect` an element
    `(tag, text)`: the element the selector finds must be that one (worker/runtime/
    identity.py), else the selector counts as failed (and an optional action as absent).
    """

    async def goto(self, url: str, *, intention: str | None) -> None: ...
    async def click(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def fill(
        self,
        selector: str | None,
        value: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def select_option(
        self,
        selector: str | None,
        value: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def upload_file(
        self,
        selector: str | None,
        path: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def hover(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def press(
        self,
        selector: str | None,
        key: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def scroll(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def wait(self, seconds: float | None, *, intention: str | None) -> None: ...
    async def expect_outcome(self, *, path: str | None = None, title: str | None = None) -> None:
        """The block did its job: wait briefly for the page to be at `path` with `title`
        (worker/runtime/outcome.py patterns), else fail the block by name."""

    async def extract(self, goal: str | None, schema: Any, *, intention: str | None) -> Any: ...
    async def read(
        self, fields: Mapping[str, Any], goal: str | None, schema: Any, *, intention: str | None
    ) -> Any:
        """An extraction's reader: each field read off the element the agent's run showed it
        in (worker/runtime/reader.py); what it cannot read goes to the agent's extractor."""

    async def download(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...
    async def solve_captcha(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None: ...


class Call(NamedTuple):
    """One recorded page call: the method, its positional arguments, and the intention."""

    method: str
    args: tuple[Any, ...]
    intention: str | None = None
    optional: bool = False
    expect: Expected = None


class RecordingPage:
    """A Page that does nothing but remember what it was asked, in order."""

    def __init__(self, extracted: Mapping[str, Any] | None = None) -> None:
        self.calls: list[Call] = []
        self._extracted = dict(extracted or {})

    def _record(
        self,
        method: str,
        *args: Any,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self.calls.append(Call(method, args, intention, optional, expect))

    async def goto(self, url: str, *, intention: str | None) -> None:
        self._record("goto", url, intention=intention)

    async def click(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record("click", selector, intention=intention, optional=optional, expect=expect)

    async def fill(
        self,
        selector: str | None,
        value: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record("fill", selector, value, intention=intention, optional=optional, expect=expect)

    async def select_option(
        self,
        selector: str | None,
        value: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record(
            "select_option", selector, value, intention=intention, optional=optional, expect=expect
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
        self._record(
            "upload_file", selector, path, intention=intention, optional=optional, expect=expect
        )

    async def hover(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record("hover", selector, intention=intention, optional=optional, expect=expect)

    async def press(
        self,
        selector: str | None,
        key: Any,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record("press", selector, key, intention=intention, optional=optional, expect=expect)

    async def scroll(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record("scroll", selector, intention=intention, optional=optional, expect=expect)

    async def wait(self, seconds: float | None, *, intention: str | None) -> None:
        self._record("wait", seconds, intention=intention)

    async def expect_outcome(self, *, path: str | None = None, title: str | None = None) -> None:
        self._record("expect_outcome", path, title, intention=None)

    async def read(
        self, fields: Mapping[str, Any], goal: str | None, schema: Any, *, intention: str | None
    ) -> Any:
        self._record("read", fields, goal, schema, intention=intention)
        return self._extracted.get(goal or "")

    async def extract(self, goal: str | None, schema: Any, *, intention: str | None) -> Any:
        self._record("extract", goal, schema, intention=intention)
        return self._extracted.get(goal or "")

    async def download(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record("download", selector, intention=intention, optional=optional, expect=expect)

    async def solve_captcha(
        self,
        selector: str | None,
        *,
        intention: str | None,
        optional: bool = False,
        expect: Expected = None,
    ) -> None:
        self._record(
            "solve_captcha", selector, intention=intention, optional=optional, expect=expect
        )
