"""The `block` decorator: registers a cached block's function under its label, per module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import ModuleType
from typing import Any, TypeVar

BlockFunction = Callable[..., Awaitable[None]]
F = TypeVar("F", bound=BlockFunction)
REGISTRY_NAME = "__scriptcache_blocks__"  # a module global; generated names never start "__"


def block(label: str) -> Callable[[F], F]:
    """Register the decorated async function as the cached code of block `label`."""

    def register(fn: F) -> F:
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


def blocks_of(module: ModuleType | Mapping[str, Any]) -> Mapping[str, BlockFunction]:
    """The block functions a loaded script module registered, by label."""
    namespace = module if isinstance(module, Mapping) else vars(module)
    return dict(namespace.get(REGISTRY_NAME, {}))
