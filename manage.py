#!/usr/bin/env python
"""Django's command-line utility for the demo project in ``site/``."""

import os
import sys
from pathlib import Path

# The demo lives in site/ as the package ``demo``; "site" itself is a standard
# library module, so the folder goes on the path instead of being imported.
sys.path.insert(0, str(Path(__file__).resolve().parent / "site"))

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
