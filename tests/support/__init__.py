"""What the tests share, in one place: service processes (tests/support/services.py), the
worker stack of real `celery worker` / `celery beat` processes (stack.py), the one way to run
the `scriptcache` command (cli.py) and one Chromium per test session (browser.py). Fixtures
live in tests/conftest.py; modules here hold no fixtures, so any test directory (and bench/)
imports them without importing another directory's conftest."""
