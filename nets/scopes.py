"""TF-Slim scope strings (`InceptionV4/Logits`) onto Keras layer and variable names.

Keras 3 forbids `/` in layer names, so every layer is named by its TF-Slim
scope path with `.` for `/`: `resnet_v2_50/block1/unit_1` is the layer prefix
`resnet_v2_50.block1.unit_1`. A scope selects a layer when the layer's name is
the scope or starts with the scope followed by `.`, exactly as a TF-Slim scope
selected the variables under it. Scopes may be written with `/` or `.`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SEPARATOR = "."


def layer_name(*parts: str) -> str:
    """TF-Slim's scope path of a layer: the non-empty parts joined by '/'."""
    return SEPARATOR.join(p for p in parts if p)


def parse_scopes(text: str | Sequence[str] | None) -> list[str]:
    """'InceptionV4/Logits, InceptionV4/AuxLogits' -> ['InceptionV4.Logits', ...]."""
    if not text:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    return [item.strip().strip("/").replace("/", SEPARATOR) for item in items if item.strip()]


def in_scope(name: str, scopes: Iterable[str]) -> bool:
    """Whether variable or layer `name` lies in one of `scopes` (or is one of them)."""
    return any(name == scope or name.startswith(scope + SEPARATOR) for scope in scopes)


def variable_scope_name(path: str) -> str:
    """Keras variable path 'InceptionV4.Logits/kernel' -> layer part 'InceptionV4.Logits'."""
    return path.rsplit("/", 1)[0]
