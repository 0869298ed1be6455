"""The order portal on loopback (site.py), its workflow (workflow.py) and the deterministic
stand-in agent's plans for it (closed_loop.py): what the browser tests, the convergence
benchmark and `scriptcache demo` run the closed loop on. Not a product feature."""
