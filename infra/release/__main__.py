"""Entry point: `python -m infra.release SUBCOMMAND ...` (see infra/release/cli.py)."""

import sys

from infra.release.cli import main

sys.exit(main())
