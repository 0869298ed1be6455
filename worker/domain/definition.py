"""Block types, the workflow definition tree, required labels and cache key rendering (pure)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any, Literal
from urllib.parse import urlsplit

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from worker.domain.errors import PermanentError
from worker.domain.sandbox import RenderError, render_bounded


class BlockKind(Enum):
    """How scriptcache treats a block type."""

    TASK_LIKE = "task_like"  # a recorded task and actions: one cached function
    TASK_V2 = "task_v2"  # calls its recorded children
    LOOP = "loop"  # an `async for` over the runtime's loop helper
    CONDITIONAL = "conditional"  # live, but its branches are walked
    LIVE = "live"  # never cached, always run live


# The one registry of block types. Making a type cacheable is one entry here plus, for a new
# kind, its generator in worker/domain/codegen/blocks.py.
BLOCK_TYPES: dict[str, BlockKind] = {
    "task": BlockKind.TASK_LIKE,
    "file_download": BlockKind.TASK_LIKE,
    "navigation": BlockKind.TASK_LIKE,
    "action": BlockKind.TASK_LIKE,
    "extraction": BlockKind.TASK_LIKE,
    "login": BlockKind.TASK_LIKE,
    "task_v2": BlockKind.TASK_V2,
    "for_loop": BlockKind.LOOP,
    "while_loop": BlockKind.LOOP,
    "conditional": BlockKind.CONDITIONAL,
    **{
        name: BlockKind.LIVE
        for name in (
            "code",
            "text_prompt",
            "download_to_s3",
            "upload_to_s3",
            "file_upload",
            "send_email",
            "file_url_parser",
            "validation",
            "wait",
            "goto_url",
            "pdf_parser",
            "http_request",
            "human_interaction",
            "print_page",
            "workflow_trigger",
            "google_sheets_read",
            "google_sheets_write",
            "pdf_fill",
            "split_pdf",
            "email_inbox",
        )
    },
}
# The kinds whose blocks may own a script_blocks row. Each has its generator in
# worker/domain/codegen/blocks.GENERATORS, and nothing else does (tests/unit/test_block_registry.py).
CACHEABLE_KINDS = frozenset({BlockKind.TASK_LIKE, BlockKind.TASK_V2, BlockKind.LOOP})
CONTAINER_KINDS = frozenset({BlockKind.TASK_V2, BlockKind.LOOP})  # cached with their children
TASK_LIKE = frozenset(t for t, k in BLOCK_TYPES.items() if k is BlockKind.TASK_LIKE)
CACHEABLE = frozenset(t for t, k in BLOCK_TYPES.items() if k in CACHEABLE_KINDS)
LIVE = frozenset(BLOCK_TYPES) - CACHEABLE
CONTAINERS = frozenset(t for t, k in BLOCK_TYPES.items() if k in CONTAINER_KINDS)
MAX_DEPTH = 32
# Loops nest `async for` statements in the generated code, and CPython refuses more than 20
# statically nested blocks: the generator's own nesting leaves room for 16 loops.
MAX_LOOP_DEPTH = 16
# What intake stores and generates: labels key rows (primary keys) and name functions.
MAX_LABEL_CHARS = 256
# The orchestrator's script_blocks label (ARCHITECTURE.md §3).
START_BLOCK = "__start_block__"
# Labels scriptcache uses itself: never a block's.
RESERVED_LABELS = frozenset({START_BLOCK})


def check_label(label: str) -> str:
    """A block label intake can store and generate; a ValueError names the problem."""
    if len(label) > MAX_LABEL_CHARS:
        raise ValueError(f"label is {len(label)} characters, over {MAX_LABEL_CHARS}")
    if label in RESERVED_LABELS:
        raise ValueError(f"label {label!r} is reserved (scriptcache's own)")
    return label


# totp: the value is a base32 secret, handled like a credential; scripts type ctx.totp(key).
ParameterType = Literal["workflow", "credential", "output", "context", "totp"]
# Parameter types whose values may be stored; every other type's values are secret
# (credential, totp, and any type this version does not know: worker/secrets/seals.py).
PUBLIC_PARAMETER_TYPES = frozenset({"workflow", "output", "context"})


def kind_of(block_type: str) -> BlockKind:
    return BLOCK_TYPES.get(block_type, BlockKind.LIVE)


class Parameter(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    key: str = Field(min_length=1)
    parameter_type: ParameterType
    default: Any = None


class Branch(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    condition: str | None = None
    blocks: list[Block] = Field(default_factory=list)


class Block(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    label: str = Field(min_length=1)
    # An unknown type is kept and never cached: a newer platform may add types (section 2).
    block_type: str = Field(min_length=1, max_length=64)
    url: str | None = None
    loop_blocks: list[Block] = Field(default_factory=list)
    branches: list[Branch] = Field(default_factory=list)

    @field_validator("label")
    @classmethod
    def _storable_label(cls, value: str) -> str:
        return check_label(value)

    @property
    def kind(self) -> BlockKind:
        return kind_of(self.block_type)

    def children(self) -> Iterator[Block]:
        yield from self.loop_blocks
        for branch in self.branches:
            yield from branch.blocks

    def sha256(self) -> str:
        """Hash of this block's definition, children included, independent of key order and
        of whether a producer sends absent fields as null."""
        data = self.model_dump(mode="json", exclude_none=True)
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()


class Definition(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    title: str = ""
    cache_key: str | None = None
    parameters: list[Parameter] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)

    @model_validator(mode="after")
    def _labels_unique_and_shallow(self) -> Definition:
        seen: set[str] = set()
        for block, depth in _walk_with_depth(self.blocks, 1):
            if depth > MAX_DEPTH:
                raise ValueError(f"blocks nested deeper than {MAX_DEPTH} levels")
            if block.kind is BlockKind.LOOP and _loop_depth(block) > MAX_LOOP_DEPTH:
                raise ValueError(
                    f"block {block.label[:80]!r}: loops nested deeper than "
                    f"{MAX_LOOP_DEPTH} levels cannot be generated"
                )
            if block.label in seen:
                raise ValueError(f"duplicate block label {block.label!r}")
            seen.add(block.label)
        return self

    def all_blocks(self) -> Iterator[Block]:
        for block, _ in _walk_with_depth(self.blocks, 1):
            yield block

    def block(self, label: str) -> Block | None:
        return next((b for b in self.all_blocks() if b.label == label), None)

    def block_hashes(self) -> dict[str, str]:
        return {b.label: b.sha256() for b in self.all_blocks()}

    def credential_keys(self) -> frozenset[str]:
        """Parameters whose values are secret: credentials and totp secrets (handled like a
        credential, ARCHITECTURE.md §9)."""
        return frozenset(
            p.key for p in self.parameters if p.parameter_type not in PUBLIC_PARAMETER_TYPES
        )

    def totp_keys(self) -> frozenset[str]:
        """Parameters holding a one-time-code secret (RFC 6238): scripts type ctx.totp(key)."""
        return frozenset(p.key for p in self.parameters if p.parameter_type == "totp")

    def planned_blocks(self) -> list[Block]:
        """Blocks the run plan speaks of: top level and conditional branches, in order."""
        return list(_top_level_walk(self.blocks))

    def required_labels(self) -> frozenset[str]:
        """Cacheable blocks reachable without entering a loop or task_v2."""
        return frozenset(b.label for b in self.planned_blocks() if b.block_type in CACHEABLE)

    def first_url(self) -> str | None:
        return next((b.url for b in self.all_blocks() if b.url), None)


def _walk_with_depth(blocks: list[Block], depth: int) -> Iterator[tuple[Block, int]]:
    stack = [(b, depth) for b in reversed(blocks)]
    while stack:
        block, level = stack.pop()
        yield block, level
        stack.extend((c, level + 1) for c in reversed(list(block.children())))


def _loop_depth(block: Block) -> int:
    """How many loops nest in `block`, itself included (iteratively: no recursion limit)."""
    deepest = 0
    stack = [(block, 0)]
    while stack:
        node, loops = stack.pop()
        loops += node.kind is BlockKind.LOOP
        deepest = max(deepest, loops)
        stack.extend((child, loops) for child in node.children())
    return deepest


def _top_level_walk(blocks: list[Block]) -> Iterator[Block]:
    for block in blocks:
        yield block
        for branch in block.branches:
            yield from _top_level_walk(branch.blocks)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _CacheKeyEnvironment(SandboxedEnvironment):
    """The sandbox, plus no `**` and no huge repetitions (of one `*` or of several in a row).
    Time, memory and size are bounded around the render (worker/domain/sandbox.py)."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the power operator is not allowed in cache keys")
        if operator == "*" and any(isinstance(v, str | list | tuple) for v in (left, right)):
            seq, count = (left, right) if isinstance(left, str | list | tuple) else (right, left)
            if isinstance(count, int) and len(seq) * count > MAX_CACHE_KEY_CHARS:
                raise SecurityError("repetition too large for a cache key")
        return super().call_binop(context, operator, left, right)


_JINJA = _CacheKeyEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
MAX_CACHE_KEY_CHARS = 512


def _chunks(template: str, parameters: Mapping[str, Any]) -> Any:
    return _JINJA.from_string(template).generate(**dict(parameters))


def render_cache_key(definition: Definition, parameters: Mapping[str, Any]) -> str:
    """Render the definition's cache key template with the run's parameters.

    Secret parameters (credential, totp) are never stored, so they are not available to the
    template: a template that uses one is refused, the same way wherever it is rendered
    (plan, generation, replay). A template that fails to render, takes too long or grows too
    large, or renders to nothing, is a PermanentError with the reason: never an empty key
    that would mix unrelated runs.
    """
    template = (definition.cache_key or "").strip()
    if template in ("", "default"):
        url = definition.first_url()
        domain = (urlsplit(url).hostname or "") if url else ""
        return f"default:{domain}"
    secret = definition.credential_keys()
    try:
        # Names only, from the parse tree: compiling would fold constants, which is where
        # `center(300000000)` spends its time.
        used = {n.name for n in _JINJA.parse(template).find_all(jinja2.nodes.Name)}
    except (jinja2.TemplateError, RecursionError) as exc:
        raise PermanentError(
            f"cache_key: template {template!r} cannot be parsed: {type(exc).__name__}: {exc}"
        ) from None
    if used & secret:
        raise PermanentError(
            f"cache_key: template {template!r} uses the secret parameter(s) "
            f"{', '.join(sorted(used & secret))}: secrets are never stored, so never part of a key"
        )
    public = {k: v for k, v in parameters.items() if k not in secret}
    try:
        value = render_bounded(_chunks, template, public).strip()
    except (
        RenderError,
        jinja2.TemplateError,
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
        RecursionError,
        MemoryError,
    ) as exc:
        raise PermanentError(
            f"cache_key: template {template!r} cannot be rendered: {type(exc).__name__}: {exc}"
        ) from None
    if not value:
        raise PermanentError(f"cache_key: template {template!r} rendered to an empty key")
    if len(value) > MAX_CACHE_KEY_CHARS:
        raise PermanentError(
            f"cache_key: rendered key is {len(value)} characters, over {MAX_CACHE_KEY_CHARS}"
        )
    return value


Branch.model_rebuild()
Block.model_rebuild()
Definition.model_rebuild()
