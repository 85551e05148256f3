"""Which routes a study goes to: each route's `match` names DICOM keywords and what they
must hold. A value list matches any of its values (case-insensitive, as DICOM's code
strings are compared), `*` and `?` are wildcards, and `">=1024"`, `"<5"`, `"!=CT"` compare
(numerically where both sides are numbers). A study matches a route when one of its
instances does; the route then runs on the instances that match."""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_COMPARISON = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*(.+)")
_OPERATORS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
              ">": operator.gt, "<": operator.lt}
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Matcher:
    """What one attribute must hold: any of `patterns`."""

    patterns: tuple[str, ...]

    def accepts(self, value: str) -> bool:
        """Whether `value` matches one of the patterns (a glob, or a comparison such as
        '>=65')."""
        value = (value or "").strip()
        for pattern in self.patterns:
            comparison = _COMPARISON.fullmatch(pattern)
            if comparison:
                op, wanted = _OPERATORS[comparison.group(1)], comparison.group(2).strip()
                left, right = _number(value), _number(wanted)
                if left is not None and right is not None:
                    if op(left, right):
                        return True
                elif op in (operator.eq, operator.ne) and op(value.upper(), wanted.upper()):
                    return True
            elif fnmatch.fnmatchcase(value.upper(), pattern.strip().upper()):
                return True
        return False


def parse_match(raw: Any, where: str) -> dict[str, Matcher]:
    """A route's `match` mapping; ValueError names the key at fault. Empty or absent:
    the route takes every study."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a mapping of DICOM keywords to values")
    out = {}
    for keyword, wanted in raw.items():
        if not isinstance(keyword, str) or not _KEYWORD.fullmatch(keyword):
            raise ValueError(f"{where}.{keyword}: not a DICOM keyword")
        from pydicom.datadict import tag_for_keyword

        if tag_for_keyword(keyword) is None:
            raise ValueError(f"{where}.{keyword}: not a DICOM keyword pydicom knows")
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values or any(isinstance(v, (dict, list)) or v is None for v in values):
            raise ValueError(f"{where}.{keyword}: values are strings or numbers")
        out[keyword] = Matcher(tuple(str(v) for v in values))
    return out


def matches(match: dict[str, Matcher], attributes: dict[str, str]) -> bool:
    """Whether one instance's attributes satisfy every matcher of a route."""
    return all(m.accepts(attributes.get(k, "")) for k, m in match.items())


def wanted_keywords(matches_of_routes: Iterable[Mapping[str, Matcher]]) -> set[str]:
    """Every keyword some route matches on: what the node keeps of each instance."""
    return {k for match in matches_of_routes for k in match}
