"""docs/PRODUCERS.md prints DESCRIBE_JS for producers in any language: the copy is the one
the runtime evaluates (worker/runtime/identity.py)."""

from __future__ import annotations

import re
from pathlib import Path

from worker.runtime.identity import DESCRIBE_JS

DOC = Path(__file__).resolve().parents[2] / "docs" / "PRODUCERS.md"


def test_the_producers_doc_prints_the_runtimes_describe_function() -> None:
    found = re.search(r"<!-- DESCRIBE_JS -->\n```js\n(.*?)\n```", DOC.read_text(), re.S)
    assert found is not None, "docs/PRODUCERS.md: no DESCRIBE_JS block"
    assert found.group(1) == DESCRIBE_JS, (
        "docs/PRODUCERS.md's DESCRIBE_JS is stale: copy worker/runtime/identity.py's"
    )
