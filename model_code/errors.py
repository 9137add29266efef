"""Exceptions that carry an exit code, so every command reports bad input as one clear line, no traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad usage or bad input (missing file, malformed data, unknown option): the command exits with 2."""

    exit_code = 2


class GateFailed(Exception):
    """A quality gate was not met (evaluation below threshold, drift detected): the command exits with 1."""

    exit_code = 1
