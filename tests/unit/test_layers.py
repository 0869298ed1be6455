"""The layer rules of pyproject.toml's [tool.importlinter] hold, and they cover every module.

`make lint` runs the same contracts (lint-imports); running them here too means `make test`
catches an import that crosses a layer. A layers contract says nothing about a module that is
in no layer, so a new package (or a module added next to the split `worker.secrets`) must be
placed in one: the second test fails until it is.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

from tests.support.services import ROOT

PACKAGES = ("worker", "tasks", "config")


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def layers() -> list[list[str]]:
    """The layers contract, top to bottom, each layer as its modules."""
    raw = contracts()["layers"]["layers"]
    assert isinstance(raw, list)
    return [[m.strip(" ()") for m in re.split(r"[|:]", layer)] for layer in raw]


def module_names() -> list[str]:
    """Every importable module of the three packages (migrations are scripts, not modules)."""
    names = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join(parts))
    return names


def test_the_import_contracts_hold() -> None:
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert status == EXIT_STATUS_SUCCESS, "lint-imports: a contract is broken (output above)"


def test_every_module_is_in_a_layer() -> None:
    placed = [m for layer in layers() for m in layer]

    def in_a_layer(name: str) -> bool:
        return any(name == m or name.startswith(m + ".") for m in placed)

    def splits(name: str) -> bool:  # a package whose modules sit in different layers
        return any(m.startswith(name + ".") for m in placed)

    outside = [n for n in module_names() if not in_a_layer(n) and not splits(n)]
    assert outside == [], (
        f"place these in a layer of [tool.importlinter] (pyproject.toml): {outside}"
    )


def test_the_layers_name_packages_that_exist() -> None:
    def exists(name: str) -> bool:
        path = ROOT / Path(*name.split("."))
        return path.is_dir() or path.with_suffix(".py").is_file()

    assert [m for layer in layers() for m in layer if not exists(m)] == []
