"""Shared command-line plumbing: turn expected errors into one-line messages and exit codes.

Exit codes of every ``python -m model_code.*`` command: 0 success, 1 a verdict against the input (evaluation
gate failed, drift detected), 2 bad usage or bad input (one line naming the problem), 70 (``EX_SOFTWARE``) a
bug in this code. A crash must never exit 1, or a pipeline would read it as a verdict.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence

from model_code.errors import GateFailed, UsageError

INTERNAL_ERROR = 70


def one_line(message: object) -> str:
    """``message`` with line breaks folded, so a log or FailureReason shows it as one line."""
    return " ".join(str(message).split())


def os_error_message(exc: OSError) -> str:
    """``cannot write /x/y: Not a directory`` from an ``OSError`` that escaped a more specific handler."""
    target = f" {exc.filename}" if exc.filename else ""
    return f"file system error on{target}: {exc.strerror or exc}"


def run(
    main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None, prog: str = ""
) -> int:
    """Run ``main`` and map :class:`UsageError` (and any ``OSError``: a path the user gave that cannot be read
    or written) to exit 2, :class:`GateFailed` to exit 1, and anything else to exit 70 with a traceback.

    Expected failures are printed as a single ``prog: error: ...`` line on stderr because the people reading
    them (a pipeline's failure reason, a CI log) need the cause, not a stack.
    """
    try:
        return main(argv)
    except UsageError as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except GateFailed as exc:
        print(f"{prog}: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"{prog}: error: {one_line(os_error_message(exc))}", file=sys.stderr)
        return UsageError.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()
        print(f"{prog}: internal error (a bug, not a verdict on the input); exit {INTERNAL_ERROR}", file=sys.stderr)
        return INTERNAL_ERROR
