"""The docs say what the code does today: documented command output is what the command
prints, the module maps name every module, and nothing cites a file the repository lacks.

A code block preceded by `<!-- output of: scriptcache ARGS -->` in README.md or docs/*.md
is checked by running `scriptcache ARGS` (after `scriptcache migrate`) on a fresh SQLite
database and blob directory: the block must appear in the output as written, except that a
line holding only `…` stands for any lines.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.services import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- output of: (scriptcache [^>]*?) -->\n```[a-z]*\n(.*?)```", re.S)
SCRIPTCACHE = Path(sys.executable).with_name("scriptcache")
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGES = ("worker", "tasks", "config")
CITES_MISSING = re.compile(  # (not spelled out here, or this file would match)
    "DESIGN" + r"(\.md|\s+sections?\s+\d)|CELERY" + "-NOTES"
)


def documented_outputs() -> list[tuple[str, str, str]]:
    """(doc, command, block) for every marked block."""
    return [
        (path.name, command, block)
        for path in DOCS
        for command, block in MARKER.findall(path.read_text(encoding="utf-8"))
    ]


def run(command: str, tmp_path: Path) -> str:
    env = {
        **os.environ,
        "SCRIPTCACHE_DATABASE_URL": f"sqlite:///{tmp_path}/doc.db",
        "SCRIPTCACHE_STORE_URL": f"file://{tmp_path}/blobs",
        "SCRIPTCACHE_LOG_LEVEL": "ERROR",
    }
    for args in (["migrate"], shlex.split(command)[1:]):
        done = subprocess.run(
            [str(SCRIPTCACHE), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"scriptcache {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def shows(output: str, block: str) -> bool:
    """Whether `output` holds `block`, each `…` line of the block standing for any lines."""
    pieces = re.split(r"^[ \t]*…[ \t]*\n", block, flags=re.M)
    at = 0
    for piece in pieces:
        found = output.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def test_the_docs_show_command_output() -> None:
    commands = {command for _, command, _ in documented_outputs()}
    assert {
        "scriptcache demo --local",
        "scriptcache render worker/samples/order-portal.jsonl",
    } <= commands


@pytest.mark.parametrize(
    ("doc", "command", "block"),
    documented_outputs(),
    ids=lambda value: value if " " not in value else None,
)
@pytest.mark.slow  # runs the documented commands; the demo's closed loop in Chromium
@pytest.mark.xdist_group("demo")
def test_documented_output_is_what_the_command_prints(
    doc: str, command: str, block: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if command == "scriptcache demo --local":  # run once for this and the demo test
        output = request.getfixturevalue("demo_local").output
    else:
        output = run(command, tmp_path)
    assert shows(output, block), (
        f"{doc}: the block after <!-- output of: {command} --> is stale; "
        f"the command prints:\n{output}"
    )


def test_a_block_with_elisions_must_still_match_in_order() -> None:
    assert shows("a\nb\nc\nd\n", "a\n…\nc\n")
    assert not shows("a\nb\nc\nd\n", "c\n…\na\n")
    assert not shows("a\nb\n", "a\nx\n")


def modules() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__init__.py" and "migrations" not in p.parts
    )


def subpackage(module: str) -> bool:
    """A module of a package below worker/, tasks/ or config/ (codegen/, browser/ ...): naming
    the package is enough."""
    return len(Path(module).parts) > 2


def test_the_architecture_map_names_every_module() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    missing = [
        m
        for m in modules()
        if m not in text and not (subpackage(m) and f"`{Path(m).parent}/`" in text)
    ]
    assert not missing, f"add these modules to docs/ARCHITECTURE.md (Modules): {missing}"


def test_every_path_the_architecture_map_names_exists() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:worker|tasks|config|tests|deploy|docs)/[\w/.-]*)`", text))
    assert len(named) > 30

    def exists(name: str) -> bool:  # a path, or `dir/module.attribute`
        folder, _, leaf = name.rpartition("/")
        return (ROOT / name).exists() or (ROOT / folder / f"{leaf.split('.')[0]}.py").exists()

    assert [name for name in sorted(named) if not exists(name)] == []


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def import_contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_layer_table_is_the_layers_contract() -> None:
    """docs/ARCHITECTURE.md's table of layers names, row by row from the top, the modules of
    the layers contract in pyproject.toml (which lint-imports enforces)."""
    (contract,) = [c for c in import_contracts() if c["type"] == "layers"]
    layers = contract["layers"]
    assert isinstance(layers, list)
    expected = [{m.strip(" ()") for m in re.split(r"[|:]", layer)} for layer in layers]
    table = section(ARCHITECTURE.read_text(encoding="utf-8"), "The layers")
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")][2:]
    documented = [set(re.findall(r"`((?:worker|tasks|config)[\w.]*)`", row[1])) for row in rows]
    assert documented == expected


def test_the_known_layer_violations_are_the_ignored_imports() -> None:
    """Every import a contract ignores is listed in docs/ARCHITECTURE.md, and nothing else."""
    ignored = {
        re.sub(r"\s+", " ", entry)
        for contract in import_contracts()
        for entry in contract.get("ignore_imports", [])  # type: ignore[attr-defined]
    }
    text = section(ARCHITECTURE.read_text(encoding="utf-8"), "The layers")
    assert set(re.findall(r"`([\w.]+ -> [\w.]+)`", text)) == ignored


def test_the_readme_layout_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    missing = [
        m
        for m in modules()
        if Path(m).name not in layout
        and not (subpackage(m) and f"{Path(m).parent.name}/" in layout)
    ]
    assert not missing, f"add these modules to README.md's Layout: {missing}"


def test_nothing_cites_design_files_the_repository_lacks() -> None:
    citing = []
    for top in (*PACKAGES, "tests", "bench", "deploy", "docs"):
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in {".py", ".md", ".sh", ".yaml", ".toml"}:
                text = path.read_text(encoding="utf-8", errors="replace")
                if CITES_MISSING.search(text):
                    citing.append(str(path.relative_to(ROOT)))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if CITES_MISSING.search(readme):
        citing.append("README.md")
    assert citing == [], "cite docs/ARCHITECTURE.md (contract §N) instead"


def test_the_readme_configuration_table_is_what_settings_reads() -> None:
    from config.settings import Settings

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(SCRIPTCACHE_\w+)` \| ([^|]+) \|", readme, flags=re.M))
    source = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    assert set(rows) == set(re.findall(r'"(SCRIPTCACHE_\w+)"', source))
    defaults = Settings()
    for variable, shown in rows.items():
        if variable.startswith("SCRIPTCACHE_SEAL_KEY"):  # keys: never a default to show
            assert "seal.key" in shown or "unset" in shown, variable
            continue
        if variable == "SCRIPTCACHE_CHROMIUM_PATH":  # the default depends on what is installed
            from config.settings import FULL_CHROMIUM_PATH, HEADLESS_SHELL_PATH

            shell, full = f"`{HEADLESS_SHELL_PATH}` when installed", f"else `{FULL_CHROMIUM_PATH}`"
            assert shown.strip() == f"{shell}, {full}", variable
            assert defaults.chromium_path in (HEADLESS_SHELL_PATH, FULL_CHROMIUM_PATH)
            continue
        value = getattr(defaults, variable.removeprefix("SCRIPTCACHE_").lower())
        expected = (
            "unset"
            if value is None
            else f"`{value:g}`"
            if isinstance(value, float)
            else f"`{value}`"
        )
        assert shown.strip() == expected, variable
