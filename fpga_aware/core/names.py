"""Which project names the generated C++ can carry.

The project name becomes the top function, file names (``firmware/{project}.h``, ``.cpp``,
``{project}_bridge.cpp``), the include guards (``{PROJECT}_H_``) and the exported C symbols.
A name that passes a plain identifier check can still break g++ or Vitis HLS; the rules
below reject such names before anything is written, each with its reason:

* C++ keywords and alternative tokens (``class``, ``int``, ``and``, ...);
* every identifier the C++ templates use (read from ``templates/`` itself, outside comments,
  strings, pragmas and template expressions: ``main``, ``input_t``, ``N_INPUT``, ``fa``, ``x``,
  the bridge's and test bench's local variables, ...) and
  the macro prefixes they build names from (``FA_STORAGE_<layer>``, ...);
* the names of the fixed files of ``firmware/`` (``defines``, ``parameters``, ``fa_layers``,
  ``weights``, ...), compared case-insensitively (a ``Defines.h`` is ``defines.h`` on a
  case-insensitive file system, and the include guards are upper case);
* names of the ``ap_types`` headers: the ``ap_``/``AP_`` prefix and every macro the headers found
  for the C simulation define;
* names the C standard headers the project includes define as macros or types (``NULL``,
  ``FILE``, ``errno``, ...), names ending in ``_t`` (types; POSIX reserves the suffix) and names
  C++ reserves for the implementation (``__x``, ``_X``);
* more than :data:`MAX_PROJECT_NAME` characters (file names are bounded).
"""

from __future__ import annotations

import functools
import re

__all__ = ["MAX_PROJECT_NAME", "project_name_problem", "template_identifiers"]

#: Longest project name: it is part of file names (``lib{project}-{hash}.so``, ...).
MAX_PROJECT_NAME = 64

CPP_KEYWORDS = frozenset(
    """
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
    char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
    co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
    extern false float for friend goto if inline int long mutable namespace new noexcept not
    not_eq nullptr operator or or_eq private protected public register reinterpret_cast requires
    return short signed sizeof static static_assert static_cast struct switch template this
    thread_local throw true try typedef typeid typename union unsigned using virtual void
    volatile wchar_t while xor xor_eq
    """.split()
)

#: Macros and types of the C headers the generated code includes (<cstdio>, <stdint.h>, ...).
C_LIBRARY_NAMES = frozenset(
    "NULL EOF FILE errno stdin stdout stderr assert offsetof BUFSIZ SEEK_SET SEEK_CUR SEEK_END "
    "INT8_MAX INT16_MAX INT32_MAX INT64_MAX UINT8_MAX UINT16_MAX UINT32_MAX UINT64_MAX".split()
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
#: a macro prefix completed by a template expression, not qualified (``fa::dense_{{ ... }}``) nor
#: itself the tail of an expression (``{{ guard }}_WEIGHTS_{{ ... }}``)
_PREFIX = re.compile(r"(?<![\w}:])([A-Za-z_][A-Za-z0-9_]*_)\{\{")
#: text the compiler never reads as names: pragma arguments (stringised), header names
_NOT_NAMES = re.compile(r"FA_PRAGMA\([^)\n]*\)|^\s*#\s*(?:pragma|include)[^\n]*", re.M)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_STRINGS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
_CPP_TEMPLATE = re.compile(r"\.(h|cpp)\.j2$")


def _cpp_templates():
    from fpga_aware.resources import template_root

    def walk(node, prefix=""):
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                yield from walk(child, f"{prefix}{child.name}/")
            elif _CPP_TEMPLATE.search(child.name):
                yield f"{prefix}{child.name}", child.read_text(encoding="utf-8")

    return list(walk(template_root()))


@functools.lru_cache(maxsize=1)
def template_identifiers() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """``(identifiers, prefixes, file stems)`` of the C++ templates, each mapped to a template
    that uses it: the identifiers of the code (no comments, strings or ``{{ ... }}``), the
    macro prefixes completed by a template expression (``FA_STORAGE_{{ layer.cname }}``) and
    the stems of the fixed files under ``firmware/`` (the project's own files excepted)."""
    identifiers: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    stems: dict[str, str] = {}
    for rel, text in _cpp_templates():
        no_comments = _COMMENTS.sub(" ", text)
        for prefix in _PREFIX.findall(no_comments):
            prefixes.setdefault(prefix, rel)
        code = _JINJA.sub(" ", _NOT_NAMES.sub(" ", _STRINGS.sub(" ", no_comments)))
        for name in _IDENT.findall(code):
            if not name[0].isdigit():
                identifiers.setdefault(name, rel)
        parts = rel.split("/")
        if parts[0] == "firmware" and not parts[-1].startswith("project."):
            stems.setdefault(parts[-1].split(".")[0].lower(), rel)
    stems.setdefault("weights", "firmware/weights/ (the weights folder)")
    return identifiers, prefixes, stems


@functools.lru_cache(maxsize=1)
def _ap_types_macros() -> tuple[frozenset, str]:
    """Macros the ap_types headers used for the C simulation define (empty when not found)."""
    try:
        from fpga_aware.sim.csim import find_ap_types

        folder = find_ap_types()
    except Exception:  # no headers: no C simulation either; HLS brings its own
        return frozenset(), ""
    names = set()
    for header in folder.rglob("*.h"):
        try:
            text = header.read_text(encoding="utf-8", errors="replace")
        except OSError:  # pragma: no cover
            continue
        names.update(re.findall(r"^\s*#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)", text, re.M))
    return frozenset(names), str(folder)


def project_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a project name, or ``None`` when it can (``name`` is an identifier)."""
    if len(name) > MAX_PROJECT_NAME:
        return f"it has {len(name)} characters, more than {MAX_PROJECT_NAME} (it is part of file names)"
    if name in CPP_KEYWORDS:
        return "it is a C++ keyword"
    if name.startswith("__") or (name.startswith("_") and name[1:2].isupper()):
        return "C++ reserves names starting with '__' or '_' and an upper-case letter"
    identifiers, prefixes, stems = template_identifiers()
    if name in identifiers:
        return f"the generated C++ uses the name {name!r} ({identifiers[name]})"
    for prefix, rel in prefixes.items():
        if name.startswith(prefix):
            return f"the generated C++ defines macros {prefix}<layer> ({rel})"
    if name.lower() in stems:
        return (
            f"firmware/{name}.h would clash with the generated {stems[name.lower()]} "
            "(file names and include guards ignore case)"
        )
    if name.lower().startswith("ap_"):
        return "names starting with 'ap_' belong to the ap_types headers (ap_fixed, ap_int, ...)"
    if name in C_LIBRARY_NAMES:
        return "the C standard headers the project includes define it"
    if name.endswith("_t"):
        return "names ending in '_t' are type names (POSIX reserves the suffix; the project defines input_t, result_t, ...)"
    macros, folder = _ap_types_macros()
    if name in macros:
        return f"the ap_types headers ({folder}) define it as a macro"
    return None
