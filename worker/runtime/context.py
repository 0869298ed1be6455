"""What a generated script asks of the platform besides the page: values, loops, branches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Protocol

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from worker.runtime.page import Page

_JINJA = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class RunContext(Protocol):
    """The run a cached script executes in.

    `current_value` / `current_index` are those of the innermost loop iteration running.
    """

    page: Page
    current_value: Any
    current_index: int | None

    def param(self, key: str) -> Any: ...
    def credential(self, key: str) -> Any: ...
    def render(self, template: str) -> str: ...
    def loop(self, label: str, values: Iterable[Any] | None) -> AsyncIterator[Any]: ...
    async def branch(self, label: str) -> int: ...
    async def run_agent(self, label: str) -> None: ...
    async def run_live(self, label: str) -> None: ...


class InMemoryRunContext:
    """A RunContext from plain mappings; remembers what it was asked in `events`.

    `branches` gives the branch index each conditional takes; `loop_values` gives the values
    of loops called with `values=None` (while loops).
    """

    def __init__(
        self,
        page: Page,
        parameters: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        branches: Mapping[str, int] | None = None,
        loop_values: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        self.page = page
        self.current_value: Any = None
        self.current_index: int | None = None
        self.events: list[tuple[str, str]] = []
        self._parameters = dict(parameters or {})
        self._credentials = dict(credentials or {})
        self._branches = dict(branches or {})
        self._loop_values = {k: list(v) for k, v in (loop_values or {}).items()}

    def param(self, key: str) -> Any:
        try:
            return self._parameters[key]
        except KeyError:
            raise LookupError(f"no value for parameter {key!r}") from None

    def credential(self, key: str) -> Any:
        try:
            return self._credentials[key]
        except KeyError:
            raise LookupError(f"no value for credential {key!r}") from None

    def render(self, template: str) -> str:
        values = {**self._parameters, "current_value": self.current_value,
                  "current_index": self.current_index}
        return _JINJA.from_string(template).render(**values)

    async def loop(self, label: str, values: Iterable[Any] | None) -> AsyncIterator[Any]:
        self.events.append(("loop", label))
        items = list(self._loop_values.get(label, ()) if values is None else values)
        outer = (self.current_value, self.current_index)
        try:
            for index, value in enumerate(items):
                self.current_value, self.current_index = value, index
                yield value
        finally:
            self.current_value, self.current_index = outer

    async def branch(self, label: str) -> int:
        self.events.append(("branch", label))
        try:
            return self._branches[label]
        except KeyError:
            raise LookupError(f"no branch given for conditional {label!r}") from None

    async def run_agent(self, label: str) -> None:
        self.events.append(("run_agent", label))

    async def run_live(self, label: str) -> None:
        self.events.append(("run_live", label))
