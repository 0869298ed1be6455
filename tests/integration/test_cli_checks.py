"""`scriptcache script show --checks`: each block's outcome check and what its extraction reads,
learned from block_completed.page (ARCHITECTURE.md §12). In-process, on a fresh PostgreSQL
database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.test_cli_inputs import environment, run

T = "2026-12-01T10:00:0{}Z"


def events() -> list[dict[str, Any]]:
    base = {"workflow_run_id": "wr_checks"}
    return [
        {
            **base,
            "type": "run_started",
            "event_id": "e0",
            "occurred_at": T.format(0),
            "workflow_permanent_id": "wpid_checks",
            "workflow_version": 1,
            "definition": {
                "title": "Read an order",
                "parameters": [{"key": "order", "parameter_type": "workflow"}],
                "blocks": [
                    {
                        "label": "read_order",
                        "block_type": "extraction",
                        "url": "http://shop.test/orders/{{ order }}",
                        "data_extraction_goal": "The status and the total",
                    }
                ],
            },
            "parameters": {"order": "SO-1"},
        },
        {
            **base,
            "type": "block_completed",
            "event_id": "e1",
            "occurred_at": T.format(1),
            "workflow_run_block_id": "b1",
            "label": "read_order",
            "block_type": "extraction",
            "status": "completed",
            "actions": [{"action_id": "a1", "action_type": "extract", "intention": "Read it"}],
            "output": {"status": "paid", "total": 12.5, "note": "fragile"},
            "page": {
                "url": "http://shop.test/orders/SO-1",
                "start_url": "http://shop.test/orders/SO-1",
                "title": "Order SO-1 | Shop",
                "fields": [
                    {
                        "path": ["status"],
                        "xpath": "/html/body/dl/dd[1]",
                        "element": {"tag": "dd", "id": "status", "near": ["Status"]},
                    },
                    {
                        "path": ["total"],
                        "xpath": "/html/body/dl/dd[2]",
                        "element": {"tag": "dd", "id": "total", "near": ["Total"]},
                        "before": "EUR ",
                    },
                ],
            },
        },
        {
            **base,
            "type": "run_finished",
            "event_id": "e2",
            "occurred_at": T.format(2),
            "status": "completed",
        },
    ]


def test_checks_show_the_outcome_check_and_what_each_field_is_read_from(
    pg_url: str, tmp_path: Path
) -> None:
    env = environment(pg_url, tmp_path)
    recording = tmp_path / "run.jsonl"
    recording.write_text("".join(json.dumps(e) + "\n" for e in events()))
    run(env, "ingest", str(recording), "--generate")

    shown = run(env, "script", "show", "wpid_checks", "--checks")

    assert "read_order" in shown
    assert "path=f\"/orders/{ctx.param('order')}\"" in shown
    assert "title=f\"Order {ctx.param('order')} | Shop\"" in shown
    assert "status ← <dd id='status'> text" in shown
    assert "total ← <dd id='total'> float in text after 'EUR '" in shown
    assert "note ← the agent's extractor" in shown
