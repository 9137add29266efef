"""The ways a release command ends besides success, each mapped to one exit code (`infra.cli`).

Every failure is one line for a person: which call, on which resource, what went wrong. Never a traceback.
"""

from __future__ import annotations

from infra.cli import EXIT_ERROR, EXIT_OK, EXIT_VERDICT  # noqa: F401 - the release modules import them from here

EXIT_USAGE = EXIT_ERROR


class ReleaseError(Exception):
    """Base: a one-line message and the exit code it ends the command with; `data` is what a machine must still
    learn from the failed command (for example the ARN of a run it started).

    An exception never carries a verdict (a verdict is an `Outcome` with exit 1), so every error is exit 2: the
    command could not decide (a `kubectl` call that failed, a file it could not write, an AWS failure).
    """

    exit_code = EXIT_ERROR
    data: dict[str, object] = {}


class UsageError(ReleaseError):
    """Bad input or usage: unknown model or environment, unreadable stack or outputs file (exit 2)."""

    exit_code = EXIT_USAGE


class AwsError(ReleaseError):
    """An AWS call failed (after boto3's retries): names the call and the resource (exit 2: no verdict).

    `code` is AWS's error code (`ValidationException`, `NoSuchKey`, ...), or None for a transport failure.
    """

    exit_code = EXIT_ERROR

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
