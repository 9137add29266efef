"""``python -m model_code.contract [--check]``: write (or check) ``hyperparameters.schema.json``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from model_code import cli, fsutil
from model_code.contract import SCHEMA_FILE, render
from model_code.errors import GateFailed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.contract", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in file is out of date")
    args = parser.parse_args(argv)
    text = render()
    current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.is_file() else None
    if args.check:
        if current != text:
            raise GateFailed(f"{SCHEMA_FILE} is out of date; run python -m model_code.contract")
        print(f"{SCHEMA_FILE} is up to date")
        return 0
    if current != text:
        fsutil.write_text(SCHEMA_FILE, text)
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, prog="model_code.contract"))
