"""console.options: a settings field's default and help make its flag, and the settings
come back from the flags, for every kind of field."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from absl import flags

from console.options import define_option_flags, option, settings_from_flags


def _scopes(text: str | None) -> list[str]:
    return [s for s in (text or "").split(",") if s]


@dataclass
class Toy:
    where: str
    count: int = option(3, "How many.", lower_bound=1)
    rate: float | None = option(None, "A rate.")
    fast: bool = option(True, "Go fast.")
    mode: str = option("a", "The mode.", choices=("a", "b"))
    names: tuple[str, ...] = option(("x",), "Names.")
    scopes: list[str] = option(help="Scopes.", default_factory=list, parse=_scopes)
    kept: int = option(5, "Renamed.", flag="keep")
    internal: int = 7


def _flags(*argv: str) -> flags.FlagValues:
    values = flags.FlagValues()
    define_option_flags(Toy, flag_values=values)
    values(["prog", *argv])
    return values


def test_defaults_come_from_the_fields_once():
    values = _flags()
    assert settings_from_flags(Toy, flag_values=values, where="w") == Toy("w")
    assert values["count"].help == "How many."
    assert "internal" not in values and "keep" in values and "kept" not in values


def test_every_kind_of_flag_reads_back():
    values = _flags("--count=9", "--rate=0.5", "--nofast", "--mode=b", "--names=p,q",
                    "--scopes=A/B,C", "--keep=2")
    assert settings_from_flags(Toy, flag_values=values, where="w") == Toy(
        "w", 9, 0.5, False, "b", ("p", "q"), ["A/B", "C"], 2)


@pytest.mark.parametrize("argv", [["--count=0"], ["--mode=c"], ["--rate=fast"]])
def test_a_value_outside_the_option_is_refused(argv):
    with pytest.raises(flags.IllegalFlagValueError):
        _flags(*argv)


def test_training_settings_from_default_flags_are_the_fields_defaults():
    """train_image_classifier's flags, unset, give TrainSettings' own defaults."""
    from training.loop.optimizers import OptimizerSettings
    from training.loop.train_settings import TrainSettings

    values = flags.FlagValues()
    define_option_flags(TrainSettings, flag_values=values)
    define_option_flags(OptimizerSettings, flag_values=values)
    values(["prog"])
    built = settings_from_flags(
        TrainSettings, flag_values=values, train_dir="t", dataset_dir="d",
        optimizer=settings_from_flags(OptimizerSettings, flag_values=values))
    assert built == TrainSettings("t", "d")
    assert values["optimizer"].value == "rmsprop" and values["keep_checkpoints"].value == 5


def _cardiac():
    from dicom.synthetic.cardiac_phantoms import CardiacSpec
    return CardiacSpec


def _synthetic():
    from dicom.synthetic.synthetic_dicom import SyntheticSpec
    return SyntheticSpec


def _shapes():
    from datasets.synthetic.shape_images import ShapeSettings
    return ShapeSettings


def _ensembles():
    from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
    return EnsembleSettings


def _receive():
    from dicom.network.receiver import ReceiveOptions
    return ReceiveOptions


def _pull():
    from dicom.network.pull_run import PullOptions
    return PullOptions


def _timeouts():
    from dicom.network.remote import Timeouts
    return Timeouts


@pytest.mark.parametrize("settings, argv, field, value", [
    (_cardiac, "--slices=3", "slices_per_patient", 3),
    (_synthetic, "--nodefects", "defects", False),
    (_shapes, "--img_width=40", "width", 40),
    (_ensembles, "--max_templates=30", "max_templates", 30),
    (_receive, "--allowed_ae_titles=MODALITY,WS 2", "allowed_callers", ("MODALITY", "WS 2")),
    (_pull, "--connections=8", "connections", 8),
    (_timeouts, "--read_timeout_s=2.5", "read_s", 2.5),
], ids=["cardiac", "synthesize", "shapes", "ensembles", "receive", "pull", "pacs-timeouts"])
def test_each_commands_settings_are_its_flags(settings, argv, field, value):
    """The commands' settings classes are their flags: unset flags give the class's own
    defaults, and a flag (renamed or not) reaches its field."""
    kind = settings()
    values = flags.FlagValues()
    define_option_flags(kind, flag_values=values)
    values(["prog"])
    assert settings_from_flags(kind, flag_values=values) == kind()
    values = flags.FlagValues()
    define_option_flags(kind, flag_values=values)
    values(["prog", argv])
    assert getattr(settings_from_flags(kind, flag_values=values), field) == value
