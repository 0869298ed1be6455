"""A run's secret values and how they are kept out of everything scriptcache writes (pure).

A run's secrets are the values of its parameters whose definition type is `credential` or
`totp` (ARCHITECTURE.md §9). They arrive once, in run_started; everything else a run sends
(block events, in any order) may repeat them in any field, typed by an agent without
`parameter_key` or inside other text (a url, an intention, extracted data).

scriptcache never keeps a secret value. It keeps a **seal** of each: its length, a random
salt and the SHA-256 of salt + value. With the plain values (while run_started is in hand)
or with the seals (for block events that arrive later), `Secrets.scrub` replaces every
occurrence in every string of an event with `<redacted>`, and `Secrets.key_of` tells which
credential a whole typed value equals, so the action is recorded with that `parameter_key`
and the generator emits `ctx.credential(key)`.

A seal is also what a re-sent message carries in place of the value (a retry, a dead letter
and its replay): `{"$sealed": "sha256", "length": n, "salt": hex, "digest": hex}`. Intake
accepts a sealed parameter value as if it were the value, so a replay has the outcome of the
original delivery.
"""

from __future__ import annotations

import hashlib
import secrets as _random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

REDACTED = "<redacted>"
# A value shorter than this is redacted only where a whole field equals it: a two-letter
# password would otherwise redact every word it occurs in.
MIN_INSIDE_CHARS = 4
SEALED = "$sealed"


@dataclass(frozen=True)
class Seal:
    """What is kept of one secret value: never the value."""

    key: str
    length: int
    salt: str
    digest: str

    @classmethod
    def of(cls, key: str, value: str, salt: str | None = None) -> Seal:
        salt = salt if salt is not None else _random.token_hex(16)
        return cls(key, len(value), salt, _digest(salt, value))

    def matches(self, text: str) -> bool:
        return len(text) == self.length and _digest(self.salt, text) == self.digest

    def as_json(self) -> dict[str, Any]:
        return {"length": self.length, "salt": self.salt, "digest": self.digest}


def seal_value(key: str, value: Any) -> dict[str, Any]:
    """A secret parameter's value as a re-sent message carries it: its seals only."""
    if is_sealed(value):
        return dict(value)
    return {SEALED: "sha256", "seals": [Seal.of(key, t).as_json() for t in secret_texts(value)]}


def unseal(key: str, token: Any) -> list[Seal]:
    """The seals of a sealed value (malformed parts are ignored)."""
    items = token.get("seals") if is_sealed(token) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        length, salt, digest = item.get("length"), item.get("salt"), item.get("digest")
        if isinstance(length, int) and isinstance(salt, str) and isinstance(digest, str):
            out.append(Seal(key, length, salt, digest))
    return out


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SEALED) == "sha256"


def _digest(salt: str, value: str) -> str:
    return hashlib.sha256(
        salt.encode() + b"\0" + value.encode("utf-8", "surrogatepass")
    ).hexdigest()


def secret_texts(value: Any) -> list[str]:
    """The texts of a secret parameter's value: itself, or every scalar inside it."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in secret_texts(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in secret_texts(v)]
    return [str(value)]


@dataclass(frozen=True)
class Secrets:
    """The secret values of one run, in plain (run_started in hand) and/or sealed."""

    plain: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key → texts
    seals: tuple[Seal, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.plain) or bool(self.seals)

    @classmethod
    def of_parameters(cls, parameters: Mapping[str, Any], secret_keys: Iterable[str]) -> Secrets:
        plain: dict[str, tuple[str, ...]] = {}
        seals: list[Seal] = []
        for key in secret_keys:
            if key not in parameters:
                continue
            value = parameters[key]
            if is_sealed(value):
                seals += unseal(key, value)
            elif texts := secret_texts(value):
                plain[key] = tuple(texts)
        return cls(plain, tuple(seals))

    def sealed(self) -> tuple[Seal, ...]:
        """Every secret as a seal (fresh salts for the plain ones)."""
        return self.seals + tuple(
            Seal.of(key, text) for key, texts in self.plain.items() for text in texts
        )

    def merge(self, other: Secrets) -> Secrets:
        return Secrets({**self.plain, **other.plain}, self.seals + other.seals)

    def key_of(self, text: str) -> str | None:
        """The key of the secret that `text` is, whole; None if it is none."""
        for key, texts in self.plain.items():
            if text in texts:
                return key
        return next((s.key for s in self.seals if s.matches(text)), None)

    def scrub(self, text: str) -> str:
        """`text` with every secret in it replaced by <redacted>."""
        if not text or self.key_of(text) is not None:
            return REDACTED if text else text
        spans: list[tuple[int, int]] = []
        for texts in self.plain.values():
            for secret in texts:
                if len(secret) < MIN_INSIDE_CHARS:
                    continue
                start = text.find(secret)
                while start >= 0:
                    spans.append((start, start + len(secret)))
                    start = text.find(secret, start + 1)
        for seal in self.seals:
            if MIN_INSIDE_CHARS <= seal.length < len(text):
                spans += [
                    (i, i + seal.length)
                    for i in range(len(text) - seal.length + 1)
                    if _digest(seal.salt, text[i : i + seal.length]) == seal.digest
                ]
        return _replace(text, spans)

    def scrub_tree(self, value: Any) -> Any:
        """Every string in a JSON value scrubbed (dict keys included); seals kept as they are."""
        if not self:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if is_sealed(value):
            return value
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_tree(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            return REDACTED if self.key_of(text) is not None else value
        return value


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    out, at = [], 0
    for start, end in sorted(spans):
        if end <= at:
            continue
        out.append(text[at : max(at, start)])
        out.append(REDACTED)
        at = end
    out.append(text[at:])
    return "".join(out)


# Fields of an action that hold what was typed or selected: a whole secret there is bound to
# its key (the script types ctx.credential(key)); a secret inside other text is redacted.
TYPED_FIELDS = ("text", "option")


def protect_action(action: Mapping[str, Any], secrets: Secrets) -> dict[str, Any]:
    """An action (a JSON object) with its secrets removed: a typed value that IS a secret
    gets that credential's `parameter_key` and no text; every other string is scrubbed."""
    out = dict(action)
    for name in TYPED_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and (key := secrets.key_of(value)) is not None:
            out[name] = None
            out["parameter_key"] = key
    return {k: v if k == "parameter_key" else secrets.scrub_tree(v) for k, v in out.items()}
