"""Demo-only code: the sample workflow, the loopback order portal and the stand-in agent. Not a product feature."""
