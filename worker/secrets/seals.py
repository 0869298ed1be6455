"""A run's secret values and how they are kept out of everything scriptcache writes (pure).

A run's secrets are the values of its parameters whose definition type is `credential` or
`totp` (ARCHITECTURE.md §9). They arrive once, in run_started; everything else a run sends
(block events, in any order) may repeat them in any field, typed by an agent without
`parameter_key` or inside other text (a url, an intention, extracted data).

scriptcache never keeps a secret value. It keeps a **seal** of each: its length, a random
salt and the HMAC-SHA256 of salt + value under the server's seal key (`SealKey`: the
settings' `SCRIPTCACHE_SEAL_KEY`, or the key file of the embedded defaults), which is never
stored beside a seal: a seal read from a table, Redis or a dead letter cannot be checked
against guesses without the key, so even a 4-digit PIN is not recovered from it. The seals of
one run share one salt (each run's differ), so a text is scanned once per distinct secret
length, not once per secret. With the plain values (while run_started is in hand)
or with the seals (for block events that arrive later), `Secrets.scrub` replaces every
occurrence in every string of an event with `<redacted>`, and `Secrets.key_of` tells which
credential a whole typed value equals, so the action is recorded with that `parameter_key`
and the generator emits `ctx.credential(key)`.

A seal is also what a re-sent message carries in place of the value (a retry, a dead letter
and its replay): `{"$sealed": "hmac-sha256", "seals": [{"length": n, "salt": hex, "digest":
hex}, ...]}`. Intake accepts a sealed parameter value as if it were the value, so a replay has
the outcome of the original delivery. Seals of the old kind (`"$sealed": "sha256"`, a bare
salted SHA-256) are recognised as sealed and never matched.

Rotation: the key that makes seals is the first of `SealKey.keys`; the others (previous keys)
still check seals made under them, until no seal of theirs is needed (docs/RUNTIME.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

REDACTED = "<redacted>"
# A value shorter than this is redacted only where a whole field equals it: a two-letter
# password would otherwise redact every word it occurs in.
MIN_INSIDE_CHARS = 4
SEALED = "$sealed"
SEAL_KIND = "hmac-sha256"
OLD_SEAL_KINDS = ("sha256",)  # recognised as sealed, never matched (no key was used)
MIN_SEAL_KEY_BYTES = 32


@dataclass(frozen=True)
class SealKey:
    """The server's keys for seals: the first makes them, every one checks them. Never
    shown (repr) nor stored beside a seal."""

    keys: tuple[bytes, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys or any(len(k) < MIN_SEAL_KEY_BYTES for k in self.keys):
            raise ValueError(f"a seal key has at least {MIN_SEAL_KEY_BYTES} bytes")

    @classmethod
    def fresh(cls) -> SealKey:
        """A random key, for seals that never leave the process (a throwaway database)."""
        return cls((_random.token_hex(32).encode(),))

    def macs(self, salt: str) -> tuple[hmac.HMAC, ...]:
        """One HMAC per key, fed the salt: copy one and feed it a value."""
        return tuple(hmac.new(k, salt.encode() + b"\0", hashlib.sha256) for k in self.keys)

    def digest(self, salt: str, value: str) -> str:
        return _fed(self.macs(salt)[0], value)

    def matches(self, salt: str, value: str, digest: str) -> bool:
        return any(hmac.compare_digest(_fed(mac, value), digest) for mac in self.macs(salt))


def _fed(mac: hmac.HMAC, value: str) -> str:
    fed = mac.copy()
    fed.update(value.encode("utf-8", "surrogatepass"))
    return fed.hexdigest()


@dataclass(frozen=True)
class Seal:
    """What is kept of one secret value: never the value."""

    key: str
    length: int
    salt: str
    digest: str

    @classmethod
    def of(cls, key: str, value: str, seal_key: SealKey, salt: str | None = None) -> Seal:
        salt = salt if salt is not None else _random.token_hex(16)
        return cls(key, len(value), salt, seal_key.digest(salt, value))

    def matches(self, text: str, seal_key: SealKey) -> bool:
        return len(text) == self.length and seal_key.matches(self.salt, text, self.digest)

    def as_json(self) -> dict[str, Any]:
        return {"length": self.length, "salt": self.salt, "digest": self.digest}


def seal_value(key: str, value: Any, seal_key: SealKey) -> dict[str, Any]:
    """A secret parameter's value as a re-sent message carries it: its seals only."""
    if is_sealed(value):
        return dict(value)
    salt = _random.token_hex(16)
    return {
        SEALED: SEAL_KIND,
        "seals": [Seal.of(key, t, seal_key, salt).as_json() for t in secret_texts(value)],
    }


def unseal(key: str, token: Any) -> list[Seal]:
    """The seals of a sealed value (malformed parts, and seals of the old unkeyed kind, are
    ignored)."""
    items = token.get("seals") if is_sealed(token) and token[SEALED] == SEAL_KIND else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        length, salt, digest = item.get("length"), item.get("salt"), item.get("digest")
        if isinstance(length, int) and isinstance(salt, str) and isinstance(digest, str):
            out.append(Seal(key, length, salt, digest))
    return out


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SEALED) in (SEAL_KIND, *OLD_SEAL_KINDS)


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
    # What seals are made and checked with; needed once there are seals to make or check.
    seal_key: SealKey | None = field(default=None, repr=False, compare=False)

    def __bool__(self) -> bool:
        return bool(self.plain) or bool(self.seals)

    @classmethod
    def of_parameters(
        cls,
        parameters: Mapping[str, Any],
        secret_keys: Iterable[str],
        seal_key: SealKey | None = None,
    ) -> Secrets:
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
        return cls(plain, tuple(seals), seal_key)

    def require_key(self) -> SealKey:
        if self.seal_key is None:
            raise ValueError("seals are made and checked with the server's seal key: none given")
        return self.seal_key

    def sealed(self) -> tuple[Seal, ...]:
        """Every secret as a seal (one fresh salt for the plain ones)."""
        if not self.plain:
            return self.seals
        key, salt = self.require_key(), _random.token_hex(16)
        return self.seals + tuple(
            Seal.of(name, text, key, salt) for name, texts in self.plain.items() for text in texts
        )

    def merge(self, other: Secrets) -> Secrets:
        return Secrets(
            {**self.plain, **other.plain},
            self.seals + other.seals,
            self.seal_key or other.seal_key,
        )

    def key_of(self, text: str) -> str | None:
        """The key of the secret that `text` is, whole; None if it is none."""
        for key, texts in self.plain.items():
            if text in texts:
                return key
        if not self.seals:
            return None
        seal_key = self.require_key()
        return next((s.key for s in self.seals if s.matches(text, seal_key)), None)

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
        return _replace(text, spans + self._sealed_spans(text))

    def _sealed_spans(self, text: str) -> list[tuple[int, int]]:
        """Where the sealed secrets occur in `text`: one HMAC per window of each distinct
        (salt, length), looked up among that group's digests."""
        groups: dict[tuple[str, int], set[str]] = {}
        for seal in self.seals:
            if MIN_INSIDE_CHARS <= seal.length < len(text):
                groups.setdefault((seal.salt, seal.length), set()).add(seal.digest)
        spans: list[tuple[int, int]] = []
        for (salt, length), digests in groups.items():
            for mac in self.require_key().macs(salt):
                spans += [
                    (i, i + length)
                    for i in range(len(text) - length + 1)
                    if _fed(mac, text[i : i + length]) in digests
                ]
        return spans

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
    return {k: v if k in ACTION_IDS else secrets.scrub_tree(v) for k, v in out.items()}


# Fields of an action that identify it or hold one of a few fixed words: never scrubbed.
ACTION_IDS = frozenset({"parameter_key", "action_id", "action_type", "status", "source"})
