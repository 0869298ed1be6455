"""scriptcache: the engine, importable and testable without a broker."""
