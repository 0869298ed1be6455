"""A script recorded on the help desk running on Django 4.2 LTS, replayed on the same help
desk after an upgrade to Django 5.2 LTS, without an agent (issue 27).

Django 5.2's admin moved nearly everything (a `<header>` and `<main>` instead of `<div>`s,
new wrappers), so most recorded absolute xpaths designate nothing. The runtime finds each
element again (worker/runtime/matcher.py) by what the recording says of it: every block runs
from code, none needs the agent, and the application's own database shows the same rows
changed as the agent's run on 4.2 changed there. Django 4.2 runs from a virtualenv under var/
made from PyPI when missing (tests/relocation/venvs.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.realapp.app import DeskApp, Ticket, Users, seeded_database
from tests.realapp.fidelity import Cache, as_clerk, changes, record, replay
from tests.relocation.venvs import venv_python


def test_a_script_recorded_on_django_4_2_replays_on_5_2_from_code_alone(
    chromium: str, desk_seed: tuple[Path, Users], cache: Cache, tmp_path: Path
) -> None:
    django42 = str(venv_python("venv-dj42"))
    version = subprocess.run(
        [django42, "-c", "import django; print(django.get_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert version.startswith("4.2")
    for directory in ("seed42", "app42", "app52"):
        (tmp_path / directory).mkdir()
    seeded, users = seeded_database(tmp_path / "seed42", python=django42)
    with DeskApp.start(seeded, users, tmp_path / "app42", python=django42) as old:
        recorded = as_clerk(old, "ticket", "SO-1004")
        before = old.state()
        cache.record(record(chromium, old, "run_agent_42", recorded))
        agent_effect = changes(before, old.state())
        port = old.port  # the workflow's urls name it: the upgraded site is served there
    ticket = Ticket("SO-1004", "grace@cobol.test", "Refund request for order SO-1004", "clerk")
    assert agent_effect == ({}, (ticket,), [("clerk", "ticket", ticket.subject, "added")])

    seeded52, users52 = desk_seed  # Django 5.2, the project's own
    with DeskApp.start(seeded52, users52, tmp_path / "app52", port=port) as desk:
        before = desk.state()
        inputs = as_clerk(desk, "ticket", "SO-1004")
        upgraded = replay(chromium, cache, inputs, "replay_on_52")
        after = desk.state()

    upgraded.result.raise_for_error()  # without an agent, any refused element stops it here
    assert (upgraded.fallbacks, upgraded.agent_calls) == (0, 0)
    assert upgraded.result.relocations, "Django 5.2 moved the recorded elements"
    assert changes(before, after) == agent_effect
