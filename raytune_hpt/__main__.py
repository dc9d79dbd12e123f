"""``python -m raytune_hpt``: the ``raytune-hpt`` command."""

from __future__ import annotations

import sys

from raytune_hpt.cli import main

if __name__ == "__main__":
    sys.exit(main())
