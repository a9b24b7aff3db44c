"""``python -m distillguard``: the same command line as the ``distillguard`` command."""

from __future__ import annotations

import sys

from distillguard.cli import main

if __name__ == "__main__":
    sys.exit(main())
