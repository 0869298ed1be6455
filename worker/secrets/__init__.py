"""Everything about a run's secrets: seals (pure), redaction of events (pure), and the seals kept in the database."""
