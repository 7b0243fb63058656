"""Reading the fields of a report: numbers the tools may leave undetermined, the file's text, and
the resource table every C-synthesis report has."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable

from fpga_aware.hls.reports.model import ReportError, Resources

__all__ = ["DSP_NAMES", "int_or_none", "float_or_none", "read_text", "csynth_resources"]

#: DSP column/tag names across tool versions and families.
DSP_NAMES = ("DSP", "DSP48E", "DSP48E1", "DSP48E2", "DSP58", "DSP58E2")
#: What a tool writes where it could not determine a number.
_UNDETERMINED = ("", "undef", "?", "-", "n/a", "na")


def int_or_none(text: str | None, what: str, path: Path) -> int | None:
    """An integer field; ``undef``/``?``/``-`` (the tool could not tell) is ``None``."""
    if text is None:
        return None
    t = text.strip().replace(",", "")
    if t.lower() in _UNDETERMINED:
        return None
    try:
        return int(t)
    except ValueError:
        try:
            f = float(t)
        except ValueError:
            raise ReportError(f"{path}: {what} is {text.strip()!r}, not a number") from None
        if not math.isfinite(f) or f != int(f):
            raise ReportError(f"{path}: {what} is {text.strip()!r}, not a whole number")
        return int(f)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def float_or_none(text: str | None, what: str, path: Path) -> float | None:
    """A number field (the first number in it: ``5.00 ns`` is 5.0); undetermined is ``None``."""
    if text is None:
        return None
    t = text.strip()
    if t.lower() in _UNDETERMINED:
        return None
    m = _NUMBER.search(t)
    if not m:
        raise ReportError(f"{path}: {what} is {t!r}, not a number")
    return float(m.group(0))


def read_text(path: Path) -> str:
    """The text of a report file (undecodable bytes replaced); an unreadable file is a :class:`ReportError`."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise ReportError(f"cannot read report {path}: {err.strerror or err}") from None


def csynth_resources(get: Callable[..., "int | None"]) -> Resources:
    """The resource row of a C-synthesis report, ``get(label, *names, optional=False)`` reading one count.

    ``label`` names the count in messages, ``names`` are the tags/columns it may have across tool
    versions (first found wins); URAM is optional (older parts and tools have none).
    """
    return Resources(
        bram_18k=get("BRAM_18K", "BRAM_18K"),
        dsp=get("DSP", *DSP_NAMES),
        ff=get("FF", "FF"),
        lut=get("LUT", "LUT"),
        uram=get("URAM", "URAM", optional=True),
    )
