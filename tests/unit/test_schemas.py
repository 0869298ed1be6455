"""The JSON Schemas under docs/schemas are what the models say today."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.domain.schemas import MODELS, render, schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_published_schema_matches_the_model(name: str) -> None:
    path = DOCS / f"{name}.schema.json"
    assert path.exists(), f"missing {path}; run: .venv/bin/scriptcache schemas"
    assert path.read_text(encoding="utf-8") == render(schemas()[name]), (
        f"{path} is stale; run: .venv/bin/scriptcache schemas"
    )


def test_the_event_schemas_name_every_required_field() -> None:
    started = schemas()["run_started"]
    assert {
        "event_id",
        "occurred_at",
        "workflow_run_id",
        "workflow_permanent_id",
        "workflow_version",
        "definition",
        "type",
    } <= set(started["required"])
