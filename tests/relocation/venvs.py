"""Virtualenvs with other versions of the real applications, made under var/ from PyPI when
missing (the project's own venv keeps its versions): Django 4.2 LTS beside the project's
Django 5.2, and Flask-Admin 1.6.1 with what it runs on."""

from __future__ import annotations

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
    """The interpreter of var/<name>, made and filled (VENVS) when missing."""
    python = VAR / name / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VAR / name)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *VENVS[name]], check=True)
    return python
