"""CT windows: known Hounsfield values map to the grey levels PS3.3's LINEAR window gives,
under each preset; a window on an image without Hounsfield units is one line."""

from __future__ import annotations

import numpy as np
import pytest

from dicom.decoding.display import GRAY_MAX, display_frames
from dicom.decoding.intensity_window import (
    PRESETS,
    IntensityWindow,
    WindowNotApplicable,
    parse_window,
)
from tests.support.dicom_files import image_dataset, reread

HOUNSFIELD = np.array([-1024, -1000, -600, -500, -100, 0, 40, 50, 80, 300, 400, 1000,
                       1500, 3071], dtype=np.float64)


def ct_with(hounsfield: np.ndarray, **attributes) -> object:
    """A CT slice whose pixels are `hounsfield` after RescaleSlope 1, RescaleIntercept
    -1024, with a VOI window of its own that a chosen window must replace."""
    stored = (hounsfield + 1024).astype(np.uint16).reshape(1, -1)
    fields = {"Modality": "CT", "RescaleSlope": "1", "RescaleIntercept": "-1024",
              "WindowCenter": "40", "WindowWidth": "400", **attributes}
    return reread(image_dataset(stored, bits_stored=12, **fields))


def expected_grey(hounsfield: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, LINEAR, onto 0..65535: below c - 0.5 - (w - 1)/2 black, above
    c - 0.5 + (w - 1)/2 white, linear between."""
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    unit = np.where(hounsfield <= low, 0.0,
                    np.where(hounsfield > high, 1.0,
                             (hounsfield - (center - 0.5)) / (width - 1) + 0.5))
    return np.rint(unit * GRAY_MAX).astype(np.uint16)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_maps_known_hounsfield_values_to_the_standards_grey_levels(name):
    window = parse_window(name)
    assert window == IntensityWindow(*PRESETS[name], name=name)
    out = next(display_frames(ct_with(HOUNSFIELD), intensity_window=window))[0]
    assert out.tolist() == expected_grey(HOUNSFIELD, *PRESETS[name]).tolist()


def test_the_presets_are_the_radiologists_windows():
    lung = next(display_frames(ct_with(HOUNSFIELD), intensity_window=parse_window("lung")))[0]
    grey = dict(zip(HOUNSFIELD.tolist(), lung.tolist(), strict=True))
    assert grey[400] == grey[3071] == GRAY_MAX  # bone and metal white
    assert 0 < grey[-1024] < grey[-1000] < grey[-600] < grey[0] < GRAY_MAX  # air to tissue
    assert grey[-1024] < GRAY_MAX / 4
    assert abs(grey[-600] - GRAY_MAX / 2) < 50
    brain = next(display_frames(ct_with(HOUNSFIELD), intensity_window=parse_window("brain")))[0]
    grey = dict(zip(HOUNSFIELD.tolist(), brain.tolist(), strict=True))
    assert grey[0] == 0 and grey[80] == GRAY_MAX and 0 < grey[40] < GRAY_MAX
    own = next(display_frames(ct_with(HOUNSFIELD)))[0]  # no window: the file's own (40, 400)
    assert own.tolist() == expected_grey(HOUNSFIELD, 40, 400).tolist()


def test_a_window_given_as_numbers_and_a_rescale_type_hu_image():
    window = parse_window("-600,1500")
    assert window == IntensityWindow(-600, 1500) and window.describe().startswith("center -600")
    out = next(display_frames(ct_with(HOUNSFIELD, Modality="OT", RescaleType="HU"),
                              intensity_window=window))[0]
    assert out.tolist() == expected_grey(HOUNSFIELD, -600, 1500).tolist()


@pytest.mark.parametrize("text", ["lungs", "40", "40,0", "a,b", "1,2,3"])
def test_a_bad_window_is_one_line(text):
    with pytest.raises(ValueError, match=r"--window=") as caught:
        parse_window(text)
    assert "\n" not in str(caught.value)


def test_a_window_on_an_image_without_hounsfield_units_names_the_file():
    mr = reread(image_dataset(np.zeros((4, 4), np.uint16), bits_stored=12, Modality="MR"))
    with pytest.raises(WindowNotApplicable, match=r"scan\.dcm: --window needs Hounsfield "
                                                  r"units, but it is MR"):
        next(display_frames(mr, intensity_window=parse_window("lung"), source="scan.dcm"))
