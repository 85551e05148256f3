"""Text from data made inert before it is printed.

File names, DICOM values and error messages can hold control characters: an ESC
sequence would clear or retitle the terminal, a newline would forge a console
line. `printable` writes every control or format character as a visible escape
(`\\x1b`, `\\n`, `\\u202e`) and leaves everything else, accents included, alone.
"""

from __future__ import annotations

import unicodedata


def printable(text: object) -> str:
    return "".join(
        ch if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp")
        else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in str(text))
