"""Safe, unique C++ identifiers for Keras layer names (the ``cname`` of every IR layer)."""

from __future__ import annotations

import hashlib
import keyword
import re

__all__ = ["MAX_CNAME", "CPP_RESERVED", "safe_identifiers"]

#: Longest C++ name derived from a layer name (a longer one is cut and gets a hash of the
#: full name): it names weights/<cname>.h and every <cname>_... identifier.
MAX_CNAME = 48

#: Names a layer identifier must not take (C++ and Python keywords, the generated code's own names).
CPP_RESERVED = frozenset(keyword.kwlist) | {
    "int", "char", "double", "float", "long", "short", "void", "auto", "class", "struct", "union",
    "template", "typename", "namespace", "using", "static", "const", "return", "switch", "case",
    "default", "do", "goto", "register", "sizeof", "typedef", "volatile", "signed", "unsigned",
    "extern", "inline", "new", "delete", "this", "operator", "private", "public", "protected",
    "virtual", "friend", "main", "input", "output", "std", "hls", "nnet",
}


def safe_identifiers(names: list[str]) -> list[str]:
    """Unique C++ identifiers for layer names (no injection, no keywords, no clashes, at most
    :data:`MAX_CNAME` characters plus a uniqueness suffix)."""
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        ident = re.sub(r"[^A-Za-z0-9_]", "_", name) or "layer"
        ident = re.sub(r"_+", "_", ident).strip("_") or "layer"
        if ident[0].isdigit() or ident in CPP_RESERVED or ident.startswith("ap_"):
            ident = f"layer_{ident}"
        if len(ident) > MAX_CNAME:  # file names (weights/<cname>.h) and identifiers stay short
            digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
            ident = f"{ident[:MAX_CNAME - 9].rstrip('_')}_{digest}"
        candidate, k = ident, 1
        while candidate in used:
            k += 1
            candidate = f"{ident}_{k}"
        used.add(candidate)
        out.append(candidate)
    return out
