"""worker/secrets/seals.py: a run's secret values, plain or sealed, are found in any text."""

from __future__ import annotations

import json

import pytest

from tests.keys import SEAL_KEY
from worker.secrets.seals import REDACTED, Secrets, protect_action, seal_value, unseal

VALUE = "hunter2-Sesame!"
PLAIN = Secrets.of_parameters({"pw": VALUE, "user": "ada"}, {"pw"})
SEALED = Secrets(seals=tuple(unseal("pw", seal_value("pw", VALUE, SEAL_KEY))), seal_key=SEAL_KEY)


@pytest.mark.parametrize("secrets", [PLAIN, SEALED], ids=["plain", "sealed"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VALUE, REDACTED),
        (f"https://x.test/?pw={VALUE}&a=1", f"https://x.test/?pw={REDACTED}&a=1"),
        (f"{VALUE}{VALUE}", f"{REDACTED}{REDACTED}"),
        ("nothing secret here", "nothing secret here"),
        ("", ""),
    ],
)
def test_a_secret_is_found_whole_or_inside_any_text(
    secrets: Secrets, text: str, expected: str
) -> None:
    assert secrets.scrub(text) == expected


@pytest.mark.parametrize("secrets", [PLAIN, SEALED], ids=["plain", "sealed"])
def test_a_typed_value_equal_to_a_secret_is_bound_to_its_key(secrets: Secrets) -> None:
    action = {
        "action_type": "input_text",
        "text": VALUE,
        "parameter_key": None,
        "intention": f"type {VALUE}",
        "xpath": f"//input[@value='{VALUE}']",
    }

    protected = protect_action(action, secrets)

    assert protected["text"] is None and protected["parameter_key"] == "pw"
    assert VALUE not in json.dumps(protected)


def test_a_short_secret_is_redacted_only_where_a_whole_field_equals_it() -> None:
    secrets = Secrets.of_parameters({"pin": "42"}, {"pin"})
    assert secrets.scrub("42") == REDACTED
    assert secrets.scrub("order 1423") == "order 1423"


def test_a_seal_holds_neither_the_value_nor_a_plain_hash_of_it() -> None:
    token = json.dumps(seal_value("pw", VALUE, SEAL_KEY))
    assert VALUE not in token
    import hashlib

    assert hashlib.sha256(VALUE.encode()).hexdigest() not in token


def test_every_scalar_of_a_structured_secret_is_a_secret() -> None:
    secrets = Secrets.of_parameters({"login": {"user": "ada@x.test", "pass": VALUE}}, {"login"})
    assert secrets.scrub_tree({"a": [f"x {VALUE}", "ada@x.test"]}) == {
        "a": [f"x {REDACTED}", REDACTED]
    }
