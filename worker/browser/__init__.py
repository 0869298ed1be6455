"""Replay cached scripts in headless Chromium (the optional `browser` extra: Playwright).

chromium.py finds and starts the browser; page.py is the runtime's Page on Playwright with
the fallback and extractor hooks; context.py the RunContext (parameters, credentials, loops,
branches); journal.py what a replay did (pure: importable without Playwright); replay.py
loads a revision's main.py and runs it. Import the submodule you need.
"""
