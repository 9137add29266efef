"""The three ways a release command ends besides success, each mapped to one exit code.

Every failure is one line for a person: which call, on which resource, what went wrong. Never a traceback.
"""

from __future__ import annotations

EXIT_OK, EXIT_VERDICT, EXIT_USAGE = 0, 1, 2


class ReleaseError(Exception):
    """Base: a one-line message and the exit code it ends the command with; `data` is what a machine must still
    learn from the failed command (for example the ARN of a run it started)."""

    exit_code = EXIT_VERDICT
    data: dict[str, object] = {}


class UsageError(ReleaseError):
    """Bad input or usage: unknown model or environment, unreadable stack or outputs file (exit 2)."""

    exit_code = EXIT_USAGE


class AwsError(ReleaseError):
    """An AWS call failed (after boto3's retries): names the call and the resource (exit 1).

    `code` is AWS's error code (`ValidationException`, `NoSuchKey`, ...), or None for a transport failure.
    """

    exit_code = EXIT_VERDICT

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
