"""kombu's Redis transport with redis-py's silent reconnect turned off.

kombu 5.7 reads the worker's pub/sub connection (remote control: what Flower's worker pages,
`celery inspect` and `celery control` talk to) with redis-py's blocking
`PubSub.parse_response()`. When that connection is reset (a proxy's idle timeout, a failover,
`CLIENT KILL TYPE pubsub`), redis-py 8 reconnects inside the read and then waits for the next
message with no timeout: the worker's event loop is stuck there and stops taking tasks, for
good. With redis-py's own retry set to zero attempts, the reset surfaces as a connection error
instead, and Celery's consumer does what it does for any lost broker connection: it
reconnects, subscribes again and carries on (tasks in flight are redelivered: acks are late).

`install()` makes redis:// and rediss:// URLs use this transport in this process; it must run
before the first broker connection (config.celery.celery_config calls it).
tests/faults/test_pubsub_reset.py kills the pub/sub connections of a real worker.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.backoff import NoBackoff
from redis.retry import Retry

SCHEMES = ("redis", "rediss")


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = super()._connparams(asynchronous)  # type: ignore[no-untyped-call]
        params["retry"] = Retry(NoBackoff(), 0)  # errors reach kombu, which reconnects
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    for scheme in SCHEMES:
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
