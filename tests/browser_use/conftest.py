"""Tests with the real browser-use package (the `browser-use` extra, in a venv of its own:
docs/PRODUCERS.md, "browser-use"). Every test module here is marked
`browser_use` (and `browser`).

Without browser-use installed, these tests fail under CI (the environment variable CI is set,
as .ci/run sets it) and are skipped elsewhere, with the command that installs it: a missing
extra never passes unnoticed where it should be there. `make test` leaves them out (its venv
has no browser-use); `make test-browser-use` runs them in the extra's own venv.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

INSTALL = "pip install -e '.[test,browser,browser-use]'"


@pytest.fixture(autouse=True)
def browser_use_installed(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("browser_use") is None:
        return
    if importlib.util.find_spec("browser_use") is not None:
        return
    message = f"browser-use is not installed ({INSTALL})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
