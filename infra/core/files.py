"""Writing the project's files (generated docs, overlay patches, promotion pins): the one atomic writer.

A reader (a concurrent `git diff`, Argo CD, another tool) never sees half a file: the text goes to a temporary file
beside the target (the same file system), is flushed to disk, then renamed over the target; the target's mode is
kept. A failure leaves the target as it was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace `path`'s content with `text` (UTF-8) in one rename; parent folders are created as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:  # the text exactly: no newline translation
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
