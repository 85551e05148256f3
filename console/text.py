"""Text from data made inert before it is printed.

File names, DICOM values and error messages can hold control characters: an ESC
sequence would clear or retitle the terminal, a newline would forge a console
line. `printable` writes every control or format character as a visible escape
(`\\x1b`, `\\n`, `\\u202e`) and leaves everything else, accents included, alone;
a byte of a file name that is not UTF-8 shows as `\\xNN`.
"""

from __future__ import annotations

import unicodedata


def printable(text: object) -> str:
    """`text` safe for one console line: control characters (newline, ESC) escaped."""
    return "".join(_escape(ch) for ch in str(text))


def _escape(ch: str) -> str:
    category = unicodedata.category(ch)
    if category not in ("Cc", "Cf", "Zl", "Zp", "Cs"):
        return ch
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
