"""What a command ends with: an exit code, lines for a person and a document for a machine."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from infra.release.errors import EXIT_OK


@dataclass
class Outcome:
    command: str
    exit_code: int = EXIT_OK
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def say(self, line: str) -> None:
        self.lines.append(line)

    def render(self, fmt: str, out: TextIO | None = None) -> None:
        out = out or sys.stdout
        if fmt == "json":
            document = {"command": self.command, "ok": self.exit_code == 0, "exitCode": self.exit_code, **self.data}
            out.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
        else:
            out.write("".join(line + "\n" for line in self.lines))
