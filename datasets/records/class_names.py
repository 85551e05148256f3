"""One spelling per class: `Chest`, `CHEST ` and `chest` are the same label.

Labels arrive as free text (fetched body parts, folder names, hand-made
`.txt` files). The canonical form is the text with surrounding whitespace
removed, inner runs of whitespace collapsed to one space, and upper-cased:
that is the DICOM convention for defined terms and it is what TF-Slim's
`labels.txt` then lists as `id:NAME`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from files.atomic_file import write_atomic

LABELS_FILE = "labels.txt"


def canonical_label(text: str) -> str:
    """A label as class names compare: whitespace collapsed, upper case."""
    return " ".join(text.split()).upper()


def class_names_from(labels: Iterable[str]) -> list[str]:
    """Sorted unique canonical names: class ids are stable for a given label set."""
    return sorted({canonical_label(label) for label in labels})


def write_labels_file(class_names: Sequence[str], directory: str) -> str:
    """TF-Slim's `labels.txt`: one `id:name` line per class."""
    path = os.path.join(directory, LABELS_FILE)
    text = "".join(f"{index}:{name}\n" for index, name in enumerate(class_names))
    write_atomic(path, text.encode("utf-8"))
    return path


def read_labels_file(directory: str) -> list[str]:
    """Inverse of `write_labels_file`; ids must run 0..N-1 without gaps."""
    path = os.path.join(directory, LABELS_FILE)
    names: dict[int, str] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            index, sep, name = line.partition(":")
            if not sep or not index.strip().isdigit():
                raise ValueError(f"{path}:{number}: expected 'id:name', got {line!r}")
            names[int(index)] = name
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{path}: class ids must be 0..{len(names) - 1} without gaps")
    return [names[i] for i in range(len(names))]
