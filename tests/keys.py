"""The seal key the tests use (worker/secrets/seals.py): one for every process of a test run,
so seals written by a worker process are checked by the test's own code and the reverse."""

from __future__ import annotations

from worker.secrets.seals import SealKey

SEAL_KEY_TEXT = "scriptcache-tests-seal-key-0123456789abcdef"
SEAL_KEY = SealKey((SEAL_KEY_TEXT.encode(),))
