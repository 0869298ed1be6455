"""Build events in the producer format (ARCHITECTURE.md §2) for tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


def task_block(label: str, block_type: str = "task", **fields: Any) -> dict[str, Any]:
    return {
        "label": label,
        "block_type": block_type,
        "url": f"https://app.test/{label}",
        "navigation_goal": f"Do {label}",
        **fields,
    }


def definition(
    blocks: list[dict[str, Any]],
    *,
    cache_key: str = "default",
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "title": "test workflow",
        "cache_key": cache_key,
        "parameters": parameters or [],
        "blocks": blocks,
    }


class RunBuilder:
    """Events of one run, with deterministic ids and times."""

    def __init__(
        self,
        run_id: str,
        wpid: str,
        defn: dict[str, Any],
        *,
        version: int = 1,
        parameters: dict[str, Any] | None = None,
        code_gen: bool = False,
        start: datetime = T0,
    ) -> None:
        self.run_id, self.wpid, self.n, self.now = run_id, wpid, 0, start
        self.events: list[dict[str, Any]] = [
            self._event(
                "run_started",
                {
                    "workflow_permanent_id": wpid,
                    "workflow_version": version,
                    "definition": defn,
                    "parameters": parameters or {},
                    "run_with": "agent",
                    "code_gen": code_gen,
                },
            )
        ]

    def _event(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        self.now += timedelta(seconds=1)
        return {
            "type": kind,
            "event_id": f"evt_{self.run_id}_{self.n:05d}",
            "occurred_at": self.now.isoformat(),
            "workflow_run_id": self.run_id,
            **fields,
        }

    def block(
        self,
        label: str,
        block_type: str = "task",
        *,
        actions: int | list[dict[str, Any]] = 2,
        status: str = "completed",
        executed_with: str = "agent",
        parent: str | None = None,
        loop_index: int | None = None,
        loop_value: Any = None,
    ) -> str:
        block_id = f"wrb_{self.run_id}_{self.n + 1:05d}"
        if isinstance(actions, int):
            actions = [
                {
                    "action_type": "click",
                    "xpath": f"//button[@id='{label}-{i}']",
                    "intention": f"Click step {i} of {label}",
                }
                for i in range(actions)
            ]
        acts = [
            {
                "action_id": f"act_{block_id}_{i}",
                "reasoning": None,
                "text": None,
                "option": None,
                "parameter_key": None,
                "xpath": None,
                "status": "completed",
                **a,
            }
            for i, a in enumerate(actions)
        ]
        task = (
            None
            if block_type not in TASK_LIKE
            else {
                "task_id": f"tsk_{block_id}",
                "url": f"https://app.test/{label}",
                "navigation_goal": f"Do {label}",
                "data_extraction_goal": None,
                "extracted_information_schema": None,
            }
        )
        self.events.append(
            self._event(
                "block_completed",
                {
                    "workflow_run_block_id": block_id,
                    "parent_workflow_run_block_id": parent,
                    "label": label,
                    "block_type": block_type,
                    "status": status,
                    "executed_with": executed_with,
                    "loop_index": loop_index,
                    "loop_value": loop_value,
                    "task": task,
                    "actions": acts if task else [],
                },
            )
        )
        return block_id

    def finish(self, status: str = "completed") -> list[dict[str, Any]]:
        self.events.append(self._event("run_finished", {"status": status}))
        return self.events


TASK_LIKE = {"task", "file_download", "navigation", "action", "extraction", "login"}


def linear_run(
    run_id: str,
    wpid: str,
    labels: list[str],
    *,
    executed: list[str] | None = None,
    actions: int = 2,
    finish: bool = True,
) -> list[dict[str, Any]]:
    """A workflow of task blocks, run over `executed` (default: all of them)."""
    builder = RunBuilder(run_id, wpid, definition([task_block(label) for label in labels]))
    for label in executed if executed is not None else labels:
        builder.block(label, actions=actions)
    return builder.finish() if finish else builder.events


def branching_run(run_id: str, wpid: str, branch: str) -> list[dict[str, Any]]:
    """sign_in, then a conditional whose run takes branch A or B, then a live wait."""
    defn = definition(
        [
            task_block("sign_in", "login"),
            {
                "label": "route",
                "block_type": "conditional",
                "branches": [
                    {"condition": "{{ go_a }}", "blocks": [task_block("branch_a")]},
                    {"condition": None, "blocks": [task_block("branch_b")]},
                ],
            },
            {"label": "settle", "block_type": "wait", "seconds": 1},
        ]
    )
    builder = RunBuilder(run_id, wpid, defn, parameters={"go_a": branch == "A"})
    builder.block("sign_in", "login")
    builder.block("route", "conditional")
    builder.block("branch_a" if branch == "A" else "branch_b")
    builder.block("settle", "wait")
    return builder.finish()
