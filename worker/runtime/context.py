"""What a generated script asks of the platform besides the page: values, loops, branches."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Protocol

import jinja2
import pyotp
from jinja2.sandbox import SandboxedEnvironment

from worker.runtime.page import Page

_JINJA = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)


class RunContext(Protocol):
    """The run a cached script executes in.

    `current_value` / `current_index` are those of the innermost loop iteration running.
    `outputs` maps a block's label to what it extracted last in this run (a cached block's
    `page.extract` result is stored there by the generated code).
    """

    page: Page
    current_value: Any
    current_index: int | None
    outputs: MutableMapping[str, Any]

    def param(self, key: str) -> Any: ...
    def credential(self, key: str) -> Any: ...
    def totp(self, key: str) -> str: ...
    def render(self, template: str) -> str: ...
    def loop(self, label: str, values: Iterable[Any] | None) -> AsyncIterator[Any]: ...
    async def branch(self, label: str) -> int: ...
    async def run_agent(self, label: str) -> None: ...
    async def run_live(self, label: str) -> None: ...


class InMemoryRunContext:
    """A RunContext from plain mappings; remembers what it was asked in `events`.

    `branches` gives the branch index each conditional takes; `loop_values` gives the values
    of loops called with `values=None` (while loops). A totp parameter's base32 secret is
    given with the credentials; `clock` (seconds since the epoch) times its codes.
    """

    def __init__(
        self,
        page: Page,
        parameters: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        branches: Mapping[str, int] | None = None,
        loop_values: Mapping[str, Sequence[Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.page = page
        self.current_value: Any = None
        self.current_index: int | None = None
        self.outputs: dict[str, Any] = {}
        self.events: list[tuple[str, str]] = []
        self.clock = clock
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

    def totp(self, key: str) -> str:
        """The current one-time code of totp parameter `key` (RFC 6238: SHA-1, 6 digits,
        30-second steps), from its base32 secret."""
        return one_time_code(self.credential(key), self.clock())

    def render(self, template: str) -> str:
        """A definition template with the run's parameters, `current_value`,
        `current_index` and `<label>.output` of the blocks that extracted something."""
        outputs = {label: {"output": value} for label, value in self.outputs.items()}
        values = {
            **outputs,
            **self._parameters,
            "current_value": self.current_value,
            "current_index": self.current_index,
        }
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


def one_time_code(secret: Any, at_s: float) -> str:
    """The RFC 6238 code of a base32 secret at a time (seconds since the epoch)."""
    if not isinstance(secret, str) or not secret.strip():
        raise ValueError("a totp secret must be a non-empty base32 string")
    normalized = secret.replace(" ", "").upper()
    return pyotp.TOTP(normalized).at(int(at_s))
