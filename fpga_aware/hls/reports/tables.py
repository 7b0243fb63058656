"""The ``|a|b|c|`` tables and ``== title`` sections of the tools' text reports."""

from __future__ import annotations

import re

__all__ = ["table_cells", "is_table_row", "report_section", "header_value"]


def table_cells(line: str) -> list[str]:
    """The cells of a ``|a|b|c|`` table row."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [c.strip() for c in s.split("|")]


def is_table_row(line: str) -> bool:
    s = line.strip()
    return s.startswith("|") and s.endswith("|") and len(s) > 1


def report_section(lines: list[str], title: str) -> list[str] | None:
    """The lines of a ``== <title>`` section of an HLS report (until the next ``==`` banner)."""
    start = None
    for i, line in enumerate(lines):
        if line.startswith("== ") and title.lower() in line.lower():
            start = i + 1
            break
    if start is None:
        return None
    end = len(lines)
    for j in range(start + 1, len(lines)):
        if lines[j].startswith("== "):
            end = j
            break
    return lines[start:end]


def header_value(lines: list[str], key: str, *, marker: str, within: int) -> str | None:
    """The value of a ``<marker> <key> : <value>`` line among the first ``within`` lines of a report
    (``* Version: 2020.1`` in HLS reports, ``| Device : 7z020`` in Vivado's); ``None`` when absent or empty."""
    pattern = re.compile(rf"^{re.escape(marker)}\s*{re.escape(key)}\s*:\s*(.*?)\s*$")
    for line in lines[:within]:
        m = pattern.match(line.strip())
        if m:
            return m.group(1) or None
    return None
