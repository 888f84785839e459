"""A problem found when checking a document (a FedRAMP VER report, an OSCAL POA&M). Standard
library only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: `path` is a JSON path into the document (`$.vulnerabilities[3].overdueStatus`),
    `value` the offending value as short printable text ("" when the value is missing), `message`
    what is wrong with it."""

    path: str
    value: str
    message: str

    def line(self) -> str:
        """The problem on one line: path, message, then the value when there is one."""
        if self.value:
            return f"{self.path}: {self.message} (value: {self.value})"
        return f"{self.path}: {self.message}"
