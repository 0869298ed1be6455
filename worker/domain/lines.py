"""JSON Lines as the producer contract writes them (pure, no imports: the CLI's `publish` reads
files with it before anything heavy is loaded)."""

from __future__ import annotations


def read_lines(data: str) -> list[str]:
    """Split JSON Lines on \\n only: U+2028 and friends may occur inside strings."""
    return [line for line in data.split("\n") if line.strip()]
