"""kombu's Redis transport, with two holes closed.

1. A reset pub/sub connection froze the worker. kombu 5.7 reads the worker's pub/sub
   connection (remote control: what Flower's worker pages, `celery inspect` and `celery
   control` talk to) with redis-py's blocking `PubSub.parse_response()`. When that connection
   is reset (a proxy's idle timeout, a failover, `CLIENT KILL TYPE pubsub`), redis-py 8
   reconnects inside the read and then waits for the next message with no timeout: the
   worker's event loop is stuck there for good. With redis-py's own retry set to zero
   attempts, the reset surfaces as a connection error instead, and Celery's consumer does
   what it does for any lost broker connection: it reconnects, subscribes again and goes on.

2. A reset consumer connection could lose a message. A worker takes a message with BRPOP,
   which removes it from the queue on the server; only once the reply has been read does
   kombu copy it into the `unacked` hash, from which an unacknowledged message comes back
   after the visibility timeout. A reset while the reply is in flight lost the message for
   good (the fault campaign saw it: 5 of 20 trials of tests/faults/test_slow_network.py
   lost one event each). Publishing through this transport writes the message into `unacked`
   in the same transaction as the LPUSH, under the delivery tag the consumer will use: a
   message lost between the queue and the consumer is put back after the visibility
   timeout, like any unacknowledged one. The consumer's own bookkeeping overwrites the entry
   on delivery and its ack deletes it. The price: a message that waits in the queue longer
   than the visibility timeout is delivered twice (intake ignores the repeat, see
   received_events), and queued messages take twice their size in Redis.

`install()` makes redis:// and rediss:// URLs use this transport in this process; it must run
before the first broker connection (config.celery.celery_config and the producer app call
it). tests/faults/test_pubsub_reset.py and test_slow_network.py exercise both.
"""

from __future__ import annotations

import time
from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from kombu.utils.json import dumps
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

SCHEMES = ("redis", "rediss")


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            # The broker connection was closed under this channel: a reset seen by the
            # consumer closes the connection, and closing the channel then restores its
            # unacked messages through a new client. kombu would fail with an AttributeError,
            # which Celery takes as unrecoverable and the worker exits; as a connection error
            # it is ignored on close and the consumer reconnects. The messages stay in
            # `unacked` and are restored after the visibility timeout, as after a crash.
            raise RedisConnectionError("the broker connection is closed")
        params: dict[str, Any] = super()._connparams(asynchronous)
        params["retry"] = Retry(NoBackoff(), 0)  # errors reach kombu, which reconnects
        return params

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        """LPUSH the message and register it as unacknowledged, in one transaction."""
        kwargs.pop("_publish_batch", None)  # published at once, not batched
        if self._expires and queue in self._expires:  # queues with x-expires: kombu's way
            super()._put(queue, message, **kwargs)
            return
        properties = message["properties"]
        delivery = properties["delivery_info"]
        key = self._q_for_pri(queue, self._get_message_priority(message, reverse=False))
        with self.conn_or_acquire() as client, client.pipeline(transaction=True) as pipe:
            pipe.lpush(key, dumps(message))
            pipe.hset(
                self.unacked_key,
                properties["delivery_tag"],
                dumps([message, delivery["exchange"], delivery["routing_key"]]),
            )
            pipe.zadd(self.unacked_index_key, {properties["delivery_tag"]: time.time()})
            pipe.execute()


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    for scheme in SCHEMES:
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
