"""The two kinds of failure: retry it, or dead-letter it at once."""

from __future__ import annotations


class ScriptcacheError(Exception):
    """scriptcache failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())


class TransientError(ScriptcacheError):
    """A temporary failure (network, 5xx, lock lost): retry with backoff."""


class PermanentError(ScriptcacheError):
    """A failure that retrying cannot fix (bad payload, unrenderable cache key): dead-letter."""


class LeaseLost(TransientError):
    """The lease on this run's debounce record was taken over; the work was rolled back."""


class RunNotStarted(TransientError):
    """The run's run_started event has not been recorded yet."""


class GaveUp(PermanentError):
    """The retries are used up. `cause` and `cause_traceback` are the last real failure's,
    which the dead letter keeps (not this error's own traceback)."""

    def __init__(
        self, message: str, cause: str | None = None, cause_traceback: str | None = None
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.cause_traceback = cause_traceback
