#!/usr/bin/env python
"""The help-desk project's manage.py (Django's own, with the settings module set)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deskapp.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
