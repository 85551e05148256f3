"""tf_convert_data's work beside the settings: the choices its flags make in one word
(the attribute set, the label policy), and running a conversion with its console lines."""

from __future__ import annotations

import sys
from typing import Any

from console.text import printable
from datasets.records.catalog_attributes import parse_attribute_names
from datasets.records.conversion import ConversionSettings, InvalidInput, convert


def attribute_settings(named: str | None) -> dict[str, Any]:
    """--attributes names the attributes and requires them; left out, the default set is
    copied where the folder has it."""
    if named is None:
        return {}
    return {"attributes": parse_attribute_names(named), "attributes_required": True}


def run_conversion(settings: ConversionSettings) -> int:
    """Convert, listing each problem (refused or skipped input) on its own line, then the
    summary; the exit status. Refused input raises InvalidInput after its lines."""
    try:
        result = convert(settings)
    except InvalidInput as exc:
        for problem in exc.problems:
            print(printable(f"  {problem.line()}"), file=sys.stderr)
        raise
    for problem in result.skipped:
        print(printable(f"skipped {problem.line()}"), file=sys.stderr)
    print(result.line(settings.output_dir))
    return 0
