"""Pure rules: the event contract, definitions, decisions, timing, codegen. No I/O, no clock reads."""
