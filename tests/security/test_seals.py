"""Issue 23, item 3: a seal reveals nothing without the server's key (HMAC-SHA256 under
SCRIPTCACHE_SEAL_KEY, never stored beside it), a rotation checks old seals with the previous
key, and scrubbing with many seals stays fast (item 5). Pure: no services."""

from __future__ import annotations

import hashlib
import itertools
import json
import time

import pytest

from tests.keys import SEAL_KEY
from worker.secrets.seals import REDACTED, Seal, SealKey, Secrets, seal_value, unseal

OTHER_KEY = SealKey((b"another-server-key-0123456789abcdef",))


def brute_force_without_the_key(seal: Seal) -> str | None:
    """What an attacker holding a table row, a Redis value or a dead letter can try: every
    4-digit PIN, against the digest as salted SHA-256 (the old seal) and as HMAC under keys
    they might guess."""
    for guess in ("".join(d) for d in itertools.product("0123456789", repeat=seal.length)):
        data = seal.salt.encode() + b"\0" + guess.encode()
        if hashlib.sha256(data).hexdigest() == seal.digest:
            return guess
        if OTHER_KEY.matches(seal.salt, guess, seal.digest):
            return guess
    return None


def test_a_pin_is_not_recovered_from_its_seal_without_the_key() -> None:
    (seal,) = Secrets({"pin": ("4821",)}, seal_key=SEAL_KEY).sealed()

    assert brute_force_without_the_key(seal) is None
    assert seal.matches("4821", SEAL_KEY) and not seal.matches("4821", OTHER_KEY)


def test_a_re_sent_messages_seals_are_hmacs_and_scrub_only_with_the_key() -> None:
    token = seal_value("pw", "hunter2-pw", SEAL_KEY)

    assert token["$sealed"] == "hmac-sha256" and "hunter2" not in str(token)
    with_key = Secrets(seals=tuple(unseal("pw", token)), seal_key=SEAL_KEY)
    wrong_key = Secrets(seals=tuple(unseal("pw", token)), seal_key=OTHER_KEY)
    assert with_key.scrub("login hunter2-pw now") == f"login {REDACTED} now"
    assert wrong_key.scrub("login hunter2-pw now") == "login hunter2-pw now"


def test_seals_of_the_old_unkeyed_kind_are_sealed_but_never_matched() -> None:
    salt = "00" * 16
    old = {
        "$sealed": "sha256",
        "seals": [
            {
                "length": 4,
                "salt": salt,
                "digest": hashlib.sha256(salt.encode() + b"\x004821").hexdigest(),
            }
        ],
    }

    assert unseal("pin", old) == []
    assert Secrets.of_parameters({"pin": old}, ["pin"], SEAL_KEY).seals == ()


def test_a_rotation_checks_seals_made_under_the_previous_key() -> None:
    old_seals = Secrets({"pw": ("hunter2-pw",)}, seal_key=OTHER_KEY).sealed()
    rotated = SealKey((SEAL_KEY.keys[0], OTHER_KEY.keys[0]))

    assert Secrets(seals=old_seals, seal_key=rotated).key_of("hunter2-pw") == "pw"
    assert Secrets(seals=old_seals, seal_key=SEAL_KEY).key_of("hunter2-pw") is None
    (new,) = Secrets({"pw": ("hunter2-pw",)}, seal_key=rotated).sealed()
    assert new.matches("hunter2-pw", SEAL_KEY)  # new seals: under the first key


def test_seals_without_a_key_refuse_rather_than_check_nothing() -> None:
    with pytest.raises(ValueError, match="seal key"):
        Secrets({"pw": ("hunter2-pw",)}).sealed()


@pytest.mark.parametrize("key", [b"", b"short"])
def test_a_seal_key_shorter_than_32_bytes_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SealKey((key,))


def test_the_seal_key_is_never_shown() -> None:
    assert SEAL_KEY.keys[0].decode() not in repr(SEAL_KEY)
    assert SEAL_KEY.keys[0].decode() not in repr(Secrets(seal_key=SEAL_KEY))


def test_item_5_a_credential_that_is_a_large_object_scrubs_a_block_event_quickly() -> None:
    """Confirmed on the old code: one SHA-256 per seal per window (2,000 seals by a 2,000
    character text took seconds per string). Now one HMAC per window per distinct length."""
    big = {f"field_{i}": f"value-{i:05d}-{'x' * (i % 7)}" for i in range(2000)}
    sealed = Secrets.of_parameters({"big": big}, ["big"], SEAL_KEY).sealed()
    later = Secrets(seals=sealed, seal_key=SEAL_KEY)
    text = ("an ordinary intention about orders " * 60) + "value-01234-" + "xxxxxx"[: 1234 % 7]

    started = time.perf_counter()
    scrubbed = later.scrub(text)
    elapsed_s = time.perf_counter() - started

    assert scrubbed.endswith(REDACTED) and "value-01234" not in scrubbed
    assert elapsed_s < 0.5, elapsed_s


def test_a_re_sent_run_started_with_sealed_parameters_is_redacted_with_the_key() -> None:
    """A retried or replayed run_started carries its credential as seals: intake redacts it
    with the server's key (it failed without one: every such retry was lost)."""
    from tests.factory import RunBuilder, definition, task_block
    from worker.domain.events import parse_event
    from worker.secrets.redaction import redact_event, redact_raw

    run = RunBuilder(
        "wr_sealed",
        "wf_sealed",
        definition([task_block("a")], parameters=[{"key": "pw", "parameter_type": "credential"}]),
        parameters={"pw": "hunter2-pw"},
    ).finish()
    sealed = redact_raw(run[0], Secrets(seal_key=SEAL_KEY))

    taken = redact_event(parse_event(sealed), Secrets(seal_key=SEAL_KEY))

    assert taken.parameters == {} and "hunter2" not in json.dumps(sealed)
