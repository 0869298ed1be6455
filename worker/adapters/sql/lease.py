"""A held lease on a run's debounce record, renewed by a heartbeat while the generation runs.

The lease is short (SCRIPTCACHE_LEASE_S, default 30 s) so that a dead worker's run is picked
up about one lease plus a sweep after it died; a background thread renews it every lease / 3
seconds. A renewal that finds the lease taken over (or lapsed) marks it lost: the generation
stops at its next check, before uploading or committing, and the compare-and-clear in the
commit is fenced by the token anyway.
"""

from __future__ import annotations

import threading
from datetime import datetime
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from worker.adapters.clock import Clock
from worker.adapters.sql import debounce
from worker.domain.errors import LeaseLost


class Lease:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        run_id: str,
        claim: debounce.Claim,
        *,
        lease_s: float,
        heartbeat_s: float,
        clock: Clock,
    ) -> None:
        self.sessions, self.run_id, self.claim, self.clock = sessions, run_id, claim, clock
        self.lease_s, self.heartbeat_s = lease_s, heartbeat_s
        self.renewals = 0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run_id}", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        """Raise LeaseLost if a renewal found the lease taken over or lapsed."""
        if self._lost is not None:
            raise LeaseLost(f"run {self.run_id}: {self._lost}")

    def complete(self, session: Session) -> datetime | None:
        """The compare-and-clear, in the caller's (the generation's) transaction."""
        self.check()
        return debounce.complete(session, self.run_id, self.claim, self.clock())

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self.sessions.begin() as session:
                    renewed = debounce.renew(
                        session, self.run_id, self.claim, self.clock(), lease_s=self.lease_s
                    )
            except Exception:  # a database blip: the lease lives on until the next beat
                continue
            if not renewed:
                self._lost = "the lease was taken over, or lapsed, while generating"
                return
            self.renewals += 1
