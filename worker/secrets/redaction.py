"""Redaction of events (pure): what may be stored, re-sent, dead-lettered or shown of an
event, given the run's secrets (worker/secrets/seals.py)."""

from __future__ import annotations

import re
from typing import Any

import jinja2
from jinja2 import meta

from worker.domain.definition import PUBLIC_PARAMETER_TYPES
from worker.domain.events import MAX_NESTING, BlockCompleted, Event, RunStarted
from worker.secrets.seals import (
    REDACTED,
    TYPED_FIELDS,
    SealKey,
    Secrets,
    protect_action,
    seal_value,
)


def redact_event(event: Event, secrets: Secrets | None = None) -> Any:
    """The event as it may be stored: no secret value in any field (worker/secrets/seals.py).

    run_started: parameters of a secret type (credential, totp) are dropped, and so is every
    field of their definition but `key` and `parameter_type`. block_completed: the recorded
    value of an action whose `parameter_key` is set is never needed (generated code refers to
    parameters by key) and is not kept for any parameter. With `secrets` (the run's, in plain
    or sealed), every other string is scrubbed and a typed value equal to a secret is bound to
    its key.
    """
    if isinstance(event, RunStarted):
        secret = event.definition.credential_keys()
        given = secrets if secrets is not None else Secrets()  # an empty one may carry a key
        secrets = Secrets.of_parameters(event.parameters, secret, given.seal_key).merge(given)
        data = event.model_dump(mode="json", exclude_unset=True)
        data["parameters"] = _parameters(
            {k: v for k, v in event.parameters.items() if k not in secret},
            data["definition"],
            secrets,
        )
        definition = data["definition"]
        definition["parameters"] = [
            {"key": p["key"], "parameter_type": p["parameter_type"]} if p["key"] in secret else p
            for p in definition.get("parameters", [])
        ]
        return RunStarted.model_validate(_scrub_fields(data, secrets))
    if isinstance(event, BlockCompleted):
        actions = [
            a.model_copy(update={"text": None, "option": None}) if a.parameter_key else a
            for a in event.actions
        ]
        event = event.model_copy(update={"actions": actions})
        if not secrets:
            return event
        data = event.model_dump(mode="json", exclude_unset=True)
        data["actions"] = [protect_action(a, secrets) for a in data.get("actions", [])]
        data["task"] = _task(data.get("task"), secrets)
        return BlockCompleted.model_validate(_scrub_fields(data, secrets))
    return event


# Identifiers and the fields intake routes by: never scrubbed (they are not free text). A
# label, a workflow id or a definition (its cache key included) that contains a secret's
# value is kept as sent (ARCHITECTURE.md §9): rewriting it would corrupt what the next run is
# checked against, and a value that short is not secret from them. The parameters are
# scrubbed, but not those the cache key renders (`_parameters`), and neither is a task's id
# (`_task`).
_ROUTING = frozenset(
    {
        "type",
        "label",
        "workflow_permanent_id",
        "definition",
        "parameters",
        "task",
        "event_id",
        "occurred_at",
        "workflow_run_id",
        "workflow_run_block_id",
        "parent_workflow_run_block_id",
        "actions",
        "workflow_version",
        "code_gen",
        "run_with",
        "status",
        "executed_with",
        "loop_index",
        "block_type",
        "fallback",
    }
)


def _scrub_fields(data: dict[str, Any], secrets: Secrets) -> dict[str, Any]:
    return {k: v if k in _ROUTING else secrets.scrub_tree(v) for k, v in data.items()}


def _parameters(params: dict[str, Any], definition: Any, secrets: Secrets) -> dict[str, Any]:
    """Public parameters scrubbed, but those the definition's cache key renders: the cache
    key is an identifier."""
    kept = cache_key_names(definition)
    return {k: v if k in kept else secrets.scrub_tree(v) for k, v in params.items()}


def _task(task: Any, secrets: Secrets) -> Any:
    if not isinstance(task, dict):
        return secrets.scrub_tree(task)
    return {k: v if k == "task_id" else secrets.scrub_tree(v) for k, v in task.items()}


def cache_key_names(definition: Any) -> frozenset[str]:
    """The names the definition's cache_key template uses (all of them when it cannot be
    parsed: then nothing it might render is rewritten)."""
    template = definition.get("cache_key") if isinstance(definition, dict) else None
    if not isinstance(template, str) or "{" not in template:
        return frozenset()
    try:
        return frozenset(meta.find_undeclared_variables(_JINJA.parse(template)))
    except (jinja2.TemplateError, RecursionError):
        return frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", template))


_JINJA = jinja2.Environment(autoescape=False)


def redact_raw(raw: Any, secrets: Secrets) -> Any:
    """The sealed form of a payload that may not validate: what a re-sent message (a retry, a
    dead letter, its replay) carries instead of the original.

    Exactly what is secret is removed, so intake of the sealed form has the outcome of the
    original: parameters of a secret type become seals (worker/secrets/seals.py), secret parameters
    of the definition keep only `key` and `parameter_type`, an action typed from a parameter
    loses its text, and every other string is scrubbed of the run's secrets (`secrets`, plus
    the plain values this payload carries). What cannot be told apart is redacted whole:
    parameters that are not an object, or whose types the definition does not tell, and
    every `text` and `option` of actions that are not a list. `secrets` carries the seal key
    the new seals are made with.
    """
    secrets = secrets.merge(payload_secrets(raw, secrets.require_key()))
    if isinstance(raw, list | tuple):
        return [redact_raw(item, secrets) for item in raw]
    if not isinstance(raw, dict):
        return secrets.scrub_tree(raw)
    known = secret_parameter_keys(raw.get("definition"))
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "parameters":
            kept = cache_key_names(raw.get("definition"))
            out[name] = (
                {
                    k: seal_value(k, v, secrets.require_key())
                    if known is None or k in known
                    else v
                    if k in kept
                    else secrets.scrub_tree(v)
                    for k, v in value.items()
                }
                if isinstance(value, dict)
                else REDACTED
            )
        elif name == "definition" and isinstance(value, dict):
            out[name] = _trim_definition(value, known)
        elif name == "task":
            out[name] = _task(value, secrets)
        elif name == "actions":
            out[name] = _redact_actions(value, secrets)
        elif name in _ROUTING:
            out[name] = value
        else:
            out[name] = secrets.scrub_tree(value)
    return out


def payload_secrets(raw: Any, seal_key: SealKey, depth: int = 0) -> Secrets:
    """The secrets a payload carries in plain or sealed: the values of its secret parameters
    (every parameter when the definition cannot tell), in it or in events it wraps."""
    if isinstance(raw, list | tuple) and depth < MAX_NESTING:
        found = Secrets(seal_key=seal_key)
        for item in raw:
            found = found.merge(payload_secrets(item, seal_key, depth + 1))
        return found
    params = raw.get("parameters") if isinstance(raw, dict) else None
    if not isinstance(params, dict):
        return Secrets(seal_key=seal_key)
    known = secret_parameter_keys(raw.get("definition"))
    return Secrets.of_parameters(params, set(params) if known is None else known, seal_key)


def _trim_definition(definition: dict[str, Any], known: frozenset[str] | None) -> Any:
    params = definition.get("parameters")
    if not isinstance(params, list):
        return definition
    return {
        **definition,
        "parameters": [
            {k: p[k] for k in ("key", "parameter_type") if k in p}
            if isinstance(p, dict) and (known is None or p.get("key") in known)
            else p
            for p in params
        ],
    }


def _redact_actions(actions: Any, secrets: Secrets) -> Any:
    if not isinstance(actions, list):  # a shape intake refuses: keep no typed value at all
        return _redact_typed(actions)
    out = []
    for action in actions:
        if isinstance(action, dict):
            if action.get("parameter_key"):
                action = {**action, **{k: None for k in TYPED_FIELDS if k in action}}
            out.append(protect_action(action, secrets))
        else:
            out.append(secrets.scrub_tree(action))
    return out


def _redact_typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if k in TYPED_FIELDS and v is not None else _redact_typed(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_typed(v) for v in value]
    return value


def secret_parameter_keys(definition: Any) -> frozenset[str] | None:
    """Keys of the definition's secret parameters; None when the definition cannot tell
    (then every parameter is treated as secret). An unknown parameter type counts as secret."""
    if not isinstance(definition, dict) or not isinstance(definition.get("parameters"), list):
        return None
    keys: set[str] = set()
    for param in definition["parameters"]:
        if not isinstance(param, dict) or not isinstance(param.get("key"), str):
            return None
        if param.get("parameter_type") not in PUBLIC_PARAMETER_TYPES:
            keys.add(param["key"])
    return frozenset(keys)
