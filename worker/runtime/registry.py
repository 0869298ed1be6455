"""The `block` decorator: registers a cached block's function under its label, per module.

A task_v2 block's helpers (one per child block its recorded run had) are marked with
`@block(label, block_type=..., child=True)`: the label and block type of that child as the
agent run recorded them. They are not registered (the definition has no such label); a
runtime that journals blocks finds them by `child_of(fn)` and records each call as a child
block run of the task_v2.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import ModuleType
from typing import Any, TypeVar

BlockFunction = Callable[..., Awaitable[None]]
F = TypeVar("F", bound=BlockFunction)
REGISTRY_NAME = "__scriptcache_blocks__"  # a module global; generated names never start "__"
CHILD_ATTRIBUTE = "__block_child__"


def block(label: str, *, block_type: str | None = None, child: bool = False) -> Callable[[F], F]:
    """Register the decorated async function as the cached code of block `label`; with
    `child=True`, mark it as the helper of a task_v2 child block `label` of `block_type`
    instead (not registered)."""

    def register(fn: F) -> F:
        if child:
            setattr(fn, CHILD_ATTRIBUTE, (label, block_type or "task"))
            return fn
        registry: dict[str, BlockFunction] = fn.__globals__.setdefault(REGISTRY_NAME, {})
        known = registry.get(label)
        if known is not None and known.__qualname__ != fn.__qualname__:
            raise ValueError(
                f"block {label!r} is registered twice: {known.__qualname__}, {fn.__qualname__}"
            )
        registry[label] = fn
        fn.__block_label__ = label  # type: ignore[attr-defined]
        return fn

    return register


def child_of(fn: Any) -> tuple[str, str] | None:
    """(label, block_type) of a task_v2 child's helper, or None for any other function."""
    found = getattr(fn, CHILD_ATTRIBUTE, None)
    if (
        isinstance(found, tuple)
        and len(found) == 2
        and all(isinstance(part, str) for part in found)
    ):
        return found[0], found[1]
    return None


def blocks_of(module: ModuleType | Mapping[str, Any]) -> Mapping[str, BlockFunction]:
    """The block functions a loaded script module registered, by label."""
    namespace = module if isinstance(module, Mapping) else vars(module)
    return dict(namespace.get(REGISTRY_NAME, {}))
