"""ctx.outputs, ctx.totp and `{{ label.output }}` in the in-memory runtime."""

from __future__ import annotations

import base64

import pytest

from worker.runtime import InMemoryRunContext, RecordingPage
from worker.runtime.context import one_time_code

# RFC 6238 appendix B: the SHA-1 seed, its codes at T = 59 s and T = 1111111109 s.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("at_s", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_totp_codes_are_those_of_rfc_6238(at_s: int, code: str) -> None:
    assert one_time_code(RFC_SECRET, at_s) == code


def test_ctx_totp_computes_the_current_code_from_the_secret_given_as_a_credential() -> None:
    now = [59.0]
    ctx = InMemoryRunContext(
        RecordingPage(), credentials={"otp": RFC_SECRET.lower()}, clock=lambda: now[0]
    )
    assert ctx.totp("otp") == "287082"
    now[0] = 1111111109
    assert ctx.totp("otp") == "081804"


def test_ctx_totp_without_a_secret_fails_naming_the_key() -> None:
    ctx = InMemoryRunContext(RecordingPage())
    with pytest.raises(LookupError, match="'otp'"):
        ctx.totp("otp")
    with pytest.raises(ValueError, match="base32"):
        InMemoryRunContext(RecordingPage(), credentials={"otp": ""}).totp("otp")


def test_outputs_start_empty_and_templates_read_them_as_label_output() -> None:
    ctx = InMemoryRunContext(RecordingPage(), {"host": "shop.test"})
    assert ctx.outputs == {}
    ctx.outputs["read_ticket"] = {"ticket": "T-1", "items": ["a", "b"]}
    assert (
        ctx.render(
            "https://{{ host }}/t/{{ read_ticket.output.ticket }}/"
            "{{ read_ticket.output['items'][1] }}"
        )
        == "https://shop.test/t/T-1/b"
    )


def test_a_parameter_named_like_a_label_keeps_its_value_in_templates() -> None:
    ctx = InMemoryRunContext(RecordingPage(), {"read": "param"})
    ctx.outputs["read"] = {"x": 1}
    assert ctx.render("{{ read }}") == "param"
