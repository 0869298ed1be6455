"""JSON Schemas of the events and the workflow definition, for producers in other languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from worker.domain.definition import Definition
from worker.domain.events import BlockCompleted, RunFinished, RunStarted

MODELS: dict[str, type[BaseModel]] = {
    "run_started": RunStarted,
    "block_completed": BlockCompleted,
    "run_finished": RunFinished,
    "definition": Definition,
}


def schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema() for name, model in MODELS.items()}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
