"""What Celery shows and re-sends of our messages never holds a secret (ARCHITECTURE.md §9).

Celery writes a message's arguments into its `argsrepr`, the `task-received` and `task-sent`
events (what Flower shows and stores), its failure log lines, and re-sends them on a retry.
Every task of this app therefore:

- shows only a summary of its event (type and identifiers) as `argsrepr`, whatever the
  producer set, from the moment the worker receives the message (`RedactedRequest`);
- re-sends on retry the sealed form of its event (worker/domain/events.redact_raw: secrets
  removed, the run's secrets sealed), with that summary as `argsrepr` (`RedactedTask.retry`).

A block event's retry is scrubbed with its run's seals, read from the database or, when the
database is why it retries, from the broker: every run_started attempt leaves its seals
there (`SEALS_KEY`, kept `SEALS_TTL_S`). What no worker has seen yet cannot be scrubbed: a
block event retried before any worker received its run's run_started still carries a value
an agent typed without `parameter_key` (docs/ARCHITECTURE.md, "Secrets").
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from celery import Task
from celery.worker.request import Request

from config.names import TASK_NAMES
from worker.domain.events import text_field
from worker.secrets.credentials import run_secrets
from worker.secrets.redaction import payload_secrets, redact_raw
from worker.secrets.seals import Seal, SealKey, Secrets
from worker.secrets.summary import summary_repr

SEALS_KEY = "scriptcache:seals:{}"
SEALS_TTL_S = 7 * 24 * 3600


class RedactedRequest(Request):  # type: ignore[misc]  # Celery is untyped
    """A received message whose argsrepr/kwargsrepr are our summary, never its content."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._argsrepr = summary_repr(self._args)
        self._kwargsrepr = "{}"
        self._request_dict["argsrepr"] = self._argsrepr
        self._request_dict["kwargsrepr"] = self._kwargsrepr


class RedactedTask(Task):  # type: ignore[misc]  # Celery's Task is untyped
    Request = RedactedRequest

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        if self.name == TASK_NAMES["run_started"] and args:
            remember_seals(self.app, args[0])

    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: Any = None,
        throw: bool = True,
        eta: Any = None,
        countdown: Any = None,
        max_retries: Any = None,
        **options: Any,
    ) -> Any:
        """Celery's retry, re-sending the sealed event with the summary as argsrepr."""
        original = list(self.request.args if args is None else args)
        sealed = [redact_raw(arg, _stored_secrets(self.app, arg)) for arg in original]
        options.setdefault("argsrepr", summary_repr(sealed))
        options.setdefault("kwargsrepr", "{}")
        return super().retry(
            sealed,
            kwargs,
            exc=exc,
            throw=throw,
            eta=eta,
            countdown=countdown,
            max_retries=max_retries,
            **options,
        )


def _seal_key() -> SealKey:
    from tasks.app import settings  # the app module imports this one

    return SealKey(settings.seal_keys)


def _stored_secrets(app: Any, payload: Any) -> Secrets:
    """The run's seals: from the database, or from the broker when the database fails."""
    from tasks.app import services  # the app module imports this one

    seal_key = _seal_key()
    try:
        with services().sessions() as session:
            return run_secrets(session, payload, seal_key)
    except Exception:
        return run_secrets(None, payload, seal_key).merge(
            recall_seals(app, text_field(payload, "workflow_run_id"), seal_key)
        )


def remember_seals(app: Any, payload: Any) -> None:
    """Leave a run_started's seals in the broker, best effort: HMACs under the seal key,
    which the broker never sees."""
    run_id = text_field(payload, "workflow_run_id")
    seals = payload_secrets(payload, _seal_key()).sealed()
    if not run_id or not seals:
        return
    data = json.dumps([[s.key, s.length, s.salt, s.digest] for s in seals])
    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        conn.default_channel.client.set(SEALS_KEY.format(run_id), data, ex=SEALS_TTL_S)


def recall_seals(app: Any, run_id: str | None, seal_key: SealKey) -> Secrets:
    if not run_id:
        return Secrets(seal_key=seal_key)
    try:
        with app.connection_for_write() as conn:
            data = conn.default_channel.client.get(SEALS_KEY.format(run_id))
        rows = json.loads(data) if data else []
        return Secrets(
            seals=tuple(Seal(str(k), int(n), str(salt), str(d)) for k, n, salt, d in rows),
            seal_key=seal_key,
        )
    except Exception:
        return Secrets(seal_key=seal_key)
