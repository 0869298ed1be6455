"""script_blocks.input_fields: the keys a block reads and what it enters (worker/domain/inputs.py)."""

from __future__ import annotations

from worker.domain.inputs import InputRecord, column, inputs_of, keys_of

TYPED = InputRecord("form", "fill", "//u", "ctx.param('user')", ("ctx.param('user')",))
PRESSED = InputRecord("form", "press", None, "'Enter'", ())


def test_the_column_round_trips_keys_and_inputs() -> None:
    value = column(["user", "pw", "user"], [TYPED, PRESSED])
    assert value["keys"] == ["pw", "user"]
    assert keys_of(value) == ("pw", "user")
    assert inputs_of(value) == (TYPED, PRESSED)
    assert [i.literal for i in inputs_of(value)] == [False, True]


def test_rows_of_the_older_shape_give_their_keys_and_no_inputs() -> None:
    assert keys_of(["order_numbers", "username"]) == ("order_numbers", "username")
    assert inputs_of(["order_numbers"]) == ()
    assert keys_of(None) == () and inputs_of(None) == ()


def test_malformed_entries_are_skipped_not_fatal() -> None:
    value = {"keys": ["a"], "inputs": ["junk", {"block": "b", "sources": "x"}]}
    assert inputs_of(value) == (InputRecord("b", "", None, "", ()),)
