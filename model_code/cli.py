"""Shared command-line plumbing: turn expected errors into one-line messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from model_code.errors import GateFailed, UsageError


def run(
    main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None, prog: str = ""
) -> int:
    """Run ``main`` and map :class:`UsageError` to exit 2 and :class:`GateFailed` to exit 1.

    Expected failures are printed as a single ``prog: error: ...`` line on stderr because the people reading
    them (a pipeline's failure reason, a CI log) need the cause, not a stack.
    """
    try:
        return main(argv)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except GateFailed as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
