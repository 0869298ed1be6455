"""How many examples a property test draws.

`make test` draws a fifth of each large count, enough to catch a regression in the rules it
states; `make test-campaigns` (which CI runs after it) sets SCRIPTCACHE_TEST_EXAMPLES=full and
runs every property test again (marker `property`) at the full count, the search that finds
the rare input.
"""

from __future__ import annotations

import os

FULL = os.environ.get("SCRIPTCACHE_TEST_EXAMPLES", "").strip() == "full"
SHARE = 5  # make test draws full // SHARE


def examples(full: int) -> int:
    """The number of examples to draw for a test whose full campaign draws `full`."""
    return full if FULL else max(full // SHARE, 1)
