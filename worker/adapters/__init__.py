"""The outside world behind small interfaces: PostgreSQL/SQLite, blobs, Celery messages, the clock."""
