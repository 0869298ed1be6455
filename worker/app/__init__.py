"""Use cases: each owns its transactions and takes its dependencies as arguments."""
