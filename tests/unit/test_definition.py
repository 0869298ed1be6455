"""Block types, the definition tree, required labels and cache keys (worker/domain/definition.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from worker.domain.definition import (
    BLOCK_TYPES,
    CACHEABLE,
    LIVE,
    TASK_LIKE,
    Block,
    BlockKind,
    Definition,
    render_cache_key,
)
from worker.domain.errors import PermanentError

SAMPLE = Path(__file__).resolve().parents[2] / "worker" / "samples" / "order-portal.jsonl"

DESIGN_BLOCK_TYPES = """
task, task_v2, for_loop, while_loop, conditional, code, text_prompt, download_to_s3,
upload_to_s3, file_upload, send_email, file_url_parser, validation, action, navigation,
extraction, login, wait, file_download, goto_url, pdf_parser, http_request, human_interaction,
print_page, workflow_trigger, google_sheets_read, google_sheets_write, pdf_fill, split_pdf,
email_inbox
"""
DESIGN_TASK_LIKE = {"task", "file_download", "navigation", "action", "extraction", "login"}
DESIGN_CACHEABLE = DESIGN_TASK_LIKE | {"task_v2", "for_loop", "while_loop"}


def sample_definition() -> Definition:
    first_line = SAMPLE.read_text(encoding="utf-8").split("\n", 1)[0]
    return Definition.model_validate(json.loads(first_line)["definition"])


def task(label: str, url: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"label": label, "block_type": "task", **({"url": url} if url else {}), **fields}


# --- the registry ----------------------------------------------------------------------------


def test_the_registry_holds_exactly_the_thirty_block_types_of_the_design() -> None:
    design = {name.strip() for name in DESIGN_BLOCK_TYPES.split(",")}

    assert len(design) == 30
    assert set(BLOCK_TYPES) == design


def test_task_like_cacheable_and_live_types_partition_the_registry_as_designed() -> None:
    assert TASK_LIKE == DESIGN_TASK_LIKE
    assert CACHEABLE == DESIGN_CACHEABLE
    assert set(BLOCK_TYPES) - DESIGN_CACHEABLE == LIVE
    assert "conditional" in LIVE
    assert not CACHEABLE & LIVE


@pytest.mark.parametrize(
    ("block_type", "kind"),
    [
        ("task", BlockKind.TASK_LIKE),
        ("login", BlockKind.TASK_LIKE),
        ("task_v2", BlockKind.TASK_V2),
        ("for_loop", BlockKind.LOOP),
        ("while_loop", BlockKind.LOOP),
        ("conditional", BlockKind.CONDITIONAL),
        ("wait", BlockKind.LIVE),
        ("code", BlockKind.LIVE),
        ("goto_url", BlockKind.LIVE),
    ],
)
def test_each_block_knows_its_kind(block_type: str, kind: BlockKind) -> None:
    assert Block(label="b", block_type=block_type).kind is kind


def test_an_unknown_block_type_is_kept_and_never_cached() -> None:
    definition = Definition.model_validate({"blocks": [{"label": "x", "block_type": "teleport"}]})
    assert definition.blocks[0].kind is BlockKind.LIVE
    assert definition.required_labels() == frozenset()


def test_a_duplicate_label_inside_a_branch_is_rejected() -> None:
    blocks = [
        task("a"),
        {
            "label": "c",
            "block_type": "conditional",
            "branches": [{"condition": None, "blocks": [task("a")]}],
        },
    ]

    with pytest.raises(ValidationError, match="duplicate block label 'a'"):
        Definition.model_validate({"blocks": blocks})


def test_blocks_nested_too_deeply_are_rejected() -> None:
    block: dict[str, Any] = task("leaf")
    for depth in range(40):
        block = {"label": f"loop{depth}", "block_type": "for_loop", "loop_blocks": [block]}

    with pytest.raises(ValidationError, match="nested deeper"):
        Definition.model_validate({"blocks": [block]})


# --- required labels -------------------------------------------------------------------------


def test_the_required_labels_of_the_sample_are_top_level_and_branch_blocks() -> None:
    definition = sample_definition()

    assert definition.required_labels() == {
        "sign_in",
        "each_order",
        "request_refund",
        "contact_support",
    }
    assert [b.label for b in definition.planned_blocks()] == [
        "sign_in",
        "each_order",
        "route",
        "request_refund",
        "contact_support",
        "settle",
    ]


def test_required_labels_enter_nested_conditionals_but_not_loops_or_task_v2() -> None:
    definition = Definition.model_validate(
        {
            "blocks": [
                task("top"),
                {
                    "label": "outer",
                    "block_type": "conditional",
                    "branches": [
                        {
                            "condition": "{{ a }}",
                            "blocks": [
                                {
                                    "label": "inner",
                                    "block_type": "conditional",
                                    "branches": [
                                        {"condition": "{{ b }}", "blocks": [task("deep_branch")]},
                                    ],
                                },
                                {
                                    "label": "branch_loop",
                                    "block_type": "while_loop",
                                    "condition": "{{ c }}",
                                    "loop_blocks": [task("in_branch_loop")],
                                },
                            ],
                        },
                        {"condition": None, "blocks": [{"label": "pause", "block_type": "wait"}]},
                    ],
                },
                {
                    "label": "loop",
                    "block_type": "for_loop",
                    "loop_over": "items",
                    "loop_blocks": [
                        task("in_loop"),
                        {
                            "label": "loop_cond",
                            "block_type": "conditional",
                            "branches": [{"condition": None, "blocks": [task("in_loop_branch")]}],
                        },
                    ],
                },
                {
                    "label": "agentic",
                    "block_type": "task_v2",
                    "prompt": "do it",
                    "loop_blocks": [task("in_task_v2")],
                },
                {"label": "fetch", "block_type": "http_request"},
            ]
        }
    )

    assert definition.required_labels() == {"top", "deep_branch", "branch_loop", "loop", "agentic"}
    assert {b.label for b in definition.all_blocks()} >= {
        "in_loop",
        "in_loop_branch",
        "in_task_v2",
        "in_branch_loop",
    }


def test_a_definition_without_cacheable_blocks_requires_nothing() -> None:
    definition = Definition.model_validate(
        {
            "blocks": [
                {"label": "pause", "block_type": "wait", "seconds": 1},
                {"label": "py", "block_type": "code", "code": "x = 1"},
            ]
        }
    )

    assert definition.required_labels() == frozenset()


# --- block hashes ----------------------------------------------------------------------------


def test_a_block_hash_is_independent_of_key_order() -> None:
    forward = {
        "label": "t",
        "block_type": "task",
        "url": "https://a.test",
        "navigation_goal": "go",
        "data_schema": {"a": 1, "b": [1, {"x": 1, "y": 2}]},
    }
    backward = {k: forward[k] for k in reversed(list(forward))}
    backward["data_schema"] = {"b": [1, {"y": 2, "x": 1}], "a": 1}

    assert list(backward) != list(forward)
    assert Block.model_validate(forward).sha256() == Block.model_validate(backward).sha256()


def test_a_block_hash_changes_when_any_field_changes() -> None:
    base = Block.model_validate(task("t", "https://a.test", navigation_goal="go"))
    changed = Block.model_validate(task("t", "https://a.test", navigation_goal="go there"))
    extra = Block.model_validate(task("t", "https://a.test", navigation_goal="go", max_steps=3))

    assert len({base.sha256(), changed.sha256(), extra.sha256()}) == 3


def test_a_container_hash_changes_when_a_child_changes() -> None:
    def loop(goal: str) -> Block:
        return Block.model_validate(
            {
                "label": "loop",
                "block_type": "for_loop",
                "loop_over": "items",
                "loop_blocks": [task("child", navigation_goal=goal)],
            }
        )

    def conditional(goal: str) -> Block:
        return Block.model_validate(
            {
                "label": "cond",
                "block_type": "conditional",
                "branches": [{"condition": None, "blocks": [task("child", navigation_goal=goal)]}],
            }
        )

    assert loop("a").sha256() != loop("b").sha256()
    assert loop("a").sha256() == loop("a").sha256()
    assert conditional("a").sha256() != conditional("b").sha256()


def test_a_block_hash_survives_a_round_trip_through_stored_json() -> None:
    definition = sample_definition()
    stored = json.loads(json.dumps(definition.model_dump(mode="json", exclude_unset=True)))

    assert Definition.model_validate(stored).block_hashes() == definition.block_hashes()


def test_block_hashes_cover_every_block_including_children() -> None:
    hashes = sample_definition().block_hashes()

    assert set(hashes) == {
        "sign_in",
        "each_order",
        "open_order",
        "read_order",
        "route",
        "request_refund",
        "contact_support",
        "settle",
    }
    assert all(len(h) == 64 for h in hashes.values())


# --- cache keys ------------------------------------------------------------------------------


def with_key(
    cache_key: str | None,
    first_url: str | None = "https://portal.acme.test/x",
) -> Definition:
    blocks = [
        {"label": "pause", "block_type": "wait"},
        task("t", first_url),
        task("u", "https://other.test/"),
    ]
    return Definition.model_validate({"cache_key": cache_key, "blocks": blocks})


@pytest.mark.parametrize(
    ("template", "parameters", "expected"),
    [
        ("{{ account_region }}", {"account_region": "eu"}, "eu"),
        ("{{ region }}-{{ tier | upper }}", {"region": "eu", "tier": "gold"}, "eu-GOLD"),
        ("  {{ region }}  ", {"region": "us"}, "us"),
        ("static", {}, "static"),
        ("{{ n + 1 }}", {"n": 41}, "42"),
        ("{{ user.country }}", {"user": {"country": "fr"}}, "fr"),
    ],
)
def test_the_cache_key_renders_the_template_with_the_run_parameters(
    template: str, parameters: dict[str, Any], expected: str
) -> None:
    assert render_cache_key(with_key(template), parameters) == expected


@pytest.mark.parametrize("template", ["default", "", None, "  default  ", "   "])
def test_a_default_or_empty_cache_key_is_the_domain_of_the_first_url(
    template: str | None,
) -> None:
    assert render_cache_key(with_key(template), {"region": "eu"}) == "default:portal.acme.test"


def test_the_default_cache_key_uses_the_first_url_even_inside_a_loop() -> None:
    definition = Definition.model_validate(
        {
            "blocks": [
                {
                    "label": "loop",
                    "block_type": "for_loop",
                    "loop_blocks": [task("inner", "https://Shop.Example.test:8443/a")],
                },
                task("later", "https://later.test"),
            ]
        }
    )

    assert render_cache_key(definition, {}) == "default:shop.example.test"


def test_the_sample_renders_its_cache_key_from_the_account_region() -> None:
    assert render_cache_key(sample_definition(), {"account_region": "eu"}) == "eu"


def test_an_undefined_variable_is_a_permanent_error_naming_cache_key() -> None:
    with pytest.raises(PermanentError) as caught:
        render_cache_key(with_key("{{ account_region }}"), {"region": "eu"})

    message = str(caught.value)
    assert message.startswith("cache_key:")
    assert "account_region" in message


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ region.__class__ }}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ region.format_map }}{{ region.__len__() }}",
    ],
)
def test_a_sandbox_escape_attempt_is_a_permanent_error(template: str) -> None:
    with pytest.raises(PermanentError, match="cache_key"):
        render_cache_key(with_key(template), {"region": "eu"})


@pytest.mark.parametrize(
    "template",
    ["{{ '' }}", "{{ region }}", "{% if false %}x{% endif %}", "{{ '   ' }}"],
)
def test_a_template_that_renders_to_nothing_is_a_permanent_error(template: str) -> None:
    with pytest.raises(PermanentError, match=r"cache_key: .* empty key"):
        render_cache_key(with_key(template), {"region": ""})


@pytest.mark.parametrize(
    "template",
    [
        "{{ region",
        "{% for %}",
        "{{ 1 / 0 }}",
        "{{ items[5] }}",
        "{{ region | nofilter }}",
        "{{ 'x' * 600 }}",
    ],
    ids=["unclosed", "bad-tag", "division-by-zero", "index-error", "unknown-filter", "too-long"],
)
def test_a_template_that_fails_to_render_is_a_permanent_error(template: str) -> None:
    with pytest.raises(PermanentError, match="cache_key"):
        render_cache_key(with_key(template), {"region": "eu", "items": [1]})


@pytest.mark.parametrize(
    "template",
    [
        "{{ 9 ** 9 ** 9 }}",
        "{{ 'x' * 100000000 }}",
        "{{ [1] * 100000000 }}",
    ],
)
def test_a_cache_key_template_cannot_hang_or_flood_the_worker(template: str) -> None:
    definition = Definition.model_validate({"cache_key": template, "blocks": []})
    with pytest.raises(PermanentError, match="cache_key"):
        render_cache_key(definition, {})


def test_a_null_field_and_an_absent_field_hash_the_same() -> None:
    with_null = Definition.model_validate(
        {"blocks": [{"label": "a", "block_type": "task", "url": None}]}
    )
    without = Definition.model_validate({"blocks": [{"label": "a", "block_type": "task"}]})
    assert with_null.block_hashes() == without.block_hashes()
