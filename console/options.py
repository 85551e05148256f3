"""Options spelled once: a settings dataclass field carries its default and its help,
and the command's flags and the settings built from them both come from that field.

    @dataclass
    class EvalSettings:
        batch_size: int = option(100, "Examples per batch.", lower_bound=1)

    define_option_flags(EvalSettings)          # --batch_size, default 100, that help
    settings = settings_from_flags(EvalSettings, checkpoint_path=...)

The flag's kind follows the field's type: bool, int, float, str (an enum with
`choices`), and tuple[str, ...] (a comma-separated list). `parse` turns a text flag into
the field's value (scopes, key=value options); `flag` names a flag that differs from
the field; such a text flag left unset gives the field's default. Fields without
`option` are not flags: a command passes them itself.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from absl import flags

_KEY = "medcv_option"
# The flags this module defines belong to the command that asks for them (its --help).
flags.disclaim_key_flags()


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """What a field's flag needs besides its name, type and default."""

    help: str
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    """The enum's values, or what gives them when the flag is defined (a registry that
    is filled after the settings class)."""
    lower_bound: float | None = None
    upper_bound: float | None = None
    flag: str | None = None
    parse: Callable[[Any], Any] | None = None


def option(default: Any = dataclasses.MISSING, help: str = "", *,
           default_factory: Callable[[], Any] | None = None,
           choices: Sequence[str] | Callable[[], Sequence[str]] | None = None,
           lower_bound: float | None = None,
           upper_bound: float | None = None, flag: str | None = None,
           parse: Callable[[Any], Any] | None = None) -> Any:
    """A dataclass field that is also a flag, with its help beside its default."""
    spec = OptionSpec(help, choices, lower_bound, upper_bound, flag, parse)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata={_KEY: spec})
    return dataclasses.field(default=default, metadata={_KEY: spec})


def _options(settings: type) -> list[tuple[dataclasses.Field, OptionSpec, Any]]:
    hints = typing.get_type_hints(settings)
    return [(f, f.metadata[_KEY], hints[f.name]) for f in dataclasses.fields(settings)
            if _KEY in f.metadata]


def _base(annotation: Any) -> Any:
    """int | None -> int; tuple[str, ...] -> tuple."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kinds[0]
    return typing.get_origin(annotation) or annotation


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def define_option_flags(settings: type, *, exclude: Sequence[str] = (),
                        flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Define one absl flag per option field of `settings`, but those in `exclude`."""
    for field, spec, annotation in _options(settings):
        if field.name in exclude:
            continue
        name, default, kind = spec.flag or field.name, _default(field), _base(annotation)
        bounds: dict[str, Any] = {k: v for k, v in (("lower_bound", spec.lower_bound),
                                                    ("upper_bound", spec.upper_bound))
                                  if v is not None}
        if spec.parse is not None:  # the flag holds the text the field is parsed from
            flags.DEFINE_string(name, None, spec.help, flag_values=flag_values)
        elif kind is bool:
            flags.DEFINE_boolean(name, default, spec.help, flag_values=flag_values)
        elif kind is int:
            flags.DEFINE_integer(name, default, spec.help, flag_values=flag_values, **bounds)
        elif kind is float:
            flags.DEFINE_float(name, default, spec.help, flag_values=flag_values, **bounds)
        elif kind in (tuple, list):
            flags.DEFINE_list(name, list(default or ()), spec.help, flag_values=flag_values)
        elif spec.choices is not None:
            choices = spec.choices() if callable(spec.choices) else spec.choices
            flags.DEFINE_enum(name, default, list(choices), spec.help, flag_values=flag_values)
        elif kind is str:
            flags.DEFINE_string(name, default, spec.help, flag_values=flag_values)
        else:
            raise TypeError(f"{settings.__name__}.{field.name}: no flag for {annotation!r}")


def settings_from_flags(settings: type, *, exclude: Sequence[str] = (),
                        flag_values: flags.FlagValues = flags.FLAGS, **given: Any) -> Any:
    """`settings` from its option flags' values (parsed), plus the fields in `given`."""
    values: dict[str, Any] = {}
    for field, spec, annotation in _options(settings):
        if field.name in exclude or field.name in given:
            continue
        value = flag_values[spec.flag or field.name].value
        if spec.parse is not None:
            if value is None:  # unset: the field's own default
                continue
            value = spec.parse(value)
        elif _base(annotation) is tuple:
            value = tuple(value or ())
        values[field.name] = value
    return settings(**values, **given)
