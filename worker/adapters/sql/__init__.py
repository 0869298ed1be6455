"""The database: engine, tables, migrations, and the repositories that take a session and never commit."""
