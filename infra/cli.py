"""What every `python -m infra.<tool>` command line means the same way: its output formats and its exit codes.

One home, so `plan`, `release`, `manifests`, `cleanup` and `config_docs` cannot drift apart again (they once
spelled the default format `table`, `text` and `human`, and `cleanup` ended with 1 when AWS refused a call).

* `--format text` (the default) is for people, `--format json` for machines; `plan` adds `mermaid`.
  The older spellings `table` and `human` are still accepted and mean `text`, so no script breaks.
* Exit codes: 0 success; 1 a verdict against you (a mandatory policy violation, an overlay that fails its
  checks, a package below its gate, an endpoint not on its declared configuration, stale generated files);
  2 no verdict was reached: bad input or usage, or a failure around the command (a program that crashes, an
  AWS call refused or unreachable after retries, a missing `kubectl`); 130 interrupted (Ctrl-C).
  So a CI job can tell "the change is wrong" (1) from "the check could not run" (2).
"""

from __future__ import annotations

import argparse

EXIT_OK = 0
EXIT_VERDICT = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

TEXT, JSON = "text", "json"
FORMAT_ALIASES = {"table": TEXT, "human": TEXT}
"""Older spellings of `text`, kept so that existing scripts and workflows keep working."""


def add_format_option(parser: argparse.ArgumentParser, *extra: str, help_text: str = "") -> None:
    """`--format {text,json,...}`, default `text`; `table` and `human` are read as `text`."""
    choices = (TEXT, JSON, *extra)

    def parse(value: str) -> str:
        chosen = FORMAT_ALIASES.get(value, value)
        if chosen not in choices:
            raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from {', '.join(choices)})")
        return chosen

    parser.add_argument("--format", type=parse, default=TEXT, metavar="{" + ",".join(choices) + "}",
                        help=help_text or "text for people (the default), json for machines")
