"""File names built from data (catalog IDs, patient ids, input names) that stay in their
folder and never collide.

A plain name (letters, digits, `.`, `_`, `-`; not starting with `.`; at most 120
characters) is kept as it is, so UIDs and ordinary ids keep their names. Anything
else (`../../x`, `/etc/passwd`, `a/b`, control characters, names that differ only
by what was replaced) has every other character replaced by `_` and gets an
8-hex digest of the original appended, so distinct inputs keep distinct names.
`NameAllocator` also numbers a name that is already taken in the same output.
"""

from __future__ import annotations

import hashlib
import os
import re

PLAIN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}$")
MAX_LENGTH = 120


def safe_stem(text: str, fallback: str = "item") -> str:
    """`text` as a file stem any file system takes: unchanged when it is plain, else
    cleaned and suffixed with a digest of the original, so two names never meet."""
    if PLAIN.match(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".")[: MAX_LENGTH - 9] or fallback
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{cleaned}-{digest}"


class NameAllocator:
    """Safe, unique stems within one output (case-insensitively, for macOS and Windows)."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def allocate(self, text: str, fallback: str = "item") -> str:
        """A safe stem for `text` not given out before (case-insensitively): `_2`, `_3`
        appended to a repeat."""
        stem = safe_stem(text, fallback)
        candidate, number = stem, 1
        while candidate.lower() in self._used:
            number += 1
            candidate = f"{stem}_{number}"
        self._used.add(candidate.lower())
        return candidate


def path_text(path: str) -> str:
    """A file system path as text that any database and terminal accept, losslessly.

    Linux names are bytes; Python hands bytes that are not UTF-8 over as lone
    surrogates, which no UTF-8 column or console can take. They become `\\xNN`
    (e.g. `M\\xfcller.dcm` for a Latin-1 `Müller.dcm`); every other name is
    unchanged.
    """
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
