"""Virtualenvs with other versions of the real applications, made under var/ from PyPI when
missing (the project's own venv keeps its versions): Django 4.2 LTS beside the project's
Django 5.2, and Flask-Admin 1.6.1 with what it runs on."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

VAR = Path(__file__).resolve().parents[2] / "var"
VENVS = {
    "venv-dj42": ["Django>=4.2,<4.3"],
    "venv-dj52": ["Django>=5.2,<5.3"],
    "venv-fa": [
        "flask-admin==1.6.1",
        "flask<3",
        "werkzeug<3",
        "wtforms<3.1",
        "sqlalchemy<2",
        "flask-sqlalchemy<3.1",
    ],
}


def venv_python(name: str) -> Path:
    """The interpreter of var/<name>, made and filled (VENVS) when missing: one process makes
    it while the others (pytest-xdist's) wait on a lock, without pip of its own (this venv's
    pip installs into it: seconds, not a minute)."""
    home = VAR / name
    python, done = home / "bin" / "python", home / ".filled"
    VAR.mkdir(parents=True, exist_ok=True)
    with open(VAR / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", "--without-pip", str(home)], check=True
            )
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    str(python),
                    "install",
                    "-q",
                    *VENVS[name],
                ],
                check=True,
            )
            done.touch()
    return python
