"""Producers for agents that do not speak the event contract themselves: their saved runs
turned into a definition and the events of ARCHITECTURE.md §2 (pure, no I/O)."""
