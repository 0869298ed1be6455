"""The script generator: a recorded run (plus carried entries) → a revision's files and rows.

Pure and deterministic; see ARCHITECTURE.md §4 and docs/RUNTIME.md.
"""

from worker.domain.codegen.module import block_body, generate_script
from worker.domain.codegen.script import CarriedBlock, CodegenError, GeneratedBlock, GeneratedScript

__all__ = [
    "CarriedBlock",
    "CodegenError",
    "GeneratedBlock",
    "GeneratedScript",
    "block_body",
    "generate_script",
]
