"""The broker transport (config/redis_transport.py) on a real Redis: a channel closed after
its connection went away (what the consumer does after a connection reset) raises a
connection error, which kombu's `ignore_errors` swallows, not the AttributeError that made
Celery call the worker unrecoverable and exit (seen in tests/faults/test_slow_network.py)."""

from __future__ import annotations

import pytest
from kombu import Connection
from kombu.common import ignore_errors
from redis.exceptions import ConnectionError as RedisConnectionError

from config import redis_transport


def test_a_channel_whose_connection_is_gone_fails_with_a_connection_error(
    redis_server: str,
) -> None:
    redis_transport.install()  # as config/celery.py does
    connection = Connection(redis_server)
    channel = connection.channel()
    assert type(channel).__module__ == "config.redis_transport"
    channel.client.ping()  # a working channel first
    channel.__dict__.pop("client", None)  # a new client must be created...
    channel._pool = None  # ...from the connection parameters
    connection.transport.client = None  # what closing the connection leaves behind

    with pytest.raises(RedisConnectionError):
        channel._connparams()
    ignore_errors(connection, channel.close)  # no AttributeError escapes
