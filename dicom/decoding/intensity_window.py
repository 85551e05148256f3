"""CT intensity windows in Hounsfield units: named presets or a center and width.

A window replaces the file's own VOI window at display conversion: Hounsfield
values (the stored values through the Modality LUT, RescaleSlope and
RescaleIntercept) from center - width/2 to center + width/2 map linearly onto the
full grey scale (DICOM PS3.3 C.11.2.1.2, LINEAR), lower values to black and higher
to white. It applies to data in Hounsfield units only: CT, or any image whose
RescaleType is HU; anything else is refused in one line naming the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pydicom.dataset import Dataset

PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
"""Center and width (HU) of the windows radiologists name."""


class WindowNotApplicable(ValueError):
    """A window was asked for an image without Hounsfield units."""


@dataclass(frozen=True)
class IntensityWindow:
    center: float
    width: float
    name: str = ""
    """The preset's name, or empty for a window given as numbers."""

    def describe(self) -> str:
        """The window as people name it, e.g. "lung (center -600 HU, width 1500 HU)"."""
        numbers = f"center {self.center:g} HU, width {self.width:g} HU"
        return f"{self.name} ({numbers})" if self.name else numbers

    def to_dict(self) -> dict:
        """The window as JSON-ready values, as records and model configs keep it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict | None) -> IntensityWindow | None:
        """The window `to_dict` wrote; None when none was."""
        return None if not raw else cls(float(raw["center"]), float(raw["width"]),
                                        str(raw.get("name", "")))


def parse_window(text: str | None) -> IntensityWindow | None:
    """'lung' (a preset) or 'center,width' in HU ('-600,1500'); None for unset or empty."""
    if text is None or not text.strip():
        return None
    name = text.strip().lower()
    if name in PRESETS:
        return IntensityWindow(*PRESETS[name], name=name)
    parts = [p.strip() for p in text.split(",")]
    try:
        center, width = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--window={text}: give a preset ({', '.join(PRESETS)}) or "
                         "center,width in Hounsfield units, e.g. -600,1500") from None
    if not width >= 1:
        raise ValueError(f"--window={text}: the width must be at least 1 HU")
    return IntensityWindow(center, width)


def check_hounsfield(ds: Dataset, source: str) -> None:
    """Refuse a window on an image whose values are not Hounsfield units."""
    modality = str(ds.get("Modality", "") or "").strip().upper()
    rescale_type = str(ds.get("RescaleType", "") or "").strip().upper()
    if modality == "CT" or rescale_type == "HU":
        return
    described = modality or "an image without Modality"
    raise WindowNotApplicable(f"{source}: --window needs Hounsfield units, but it is "
                              f"{described} (not CT, no RescaleType HU)")
