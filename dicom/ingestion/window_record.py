"""The CT window a catalog's images were displayed through, recorded in it and enforced.

`create_database --window` stores every image through one window, so a catalog holds
one: the first ingest records its choice (or none) in `catalog_settings`, a later
ingest with another is refused in one line, and `fetch_image` hands the window on to
the folder it writes (`files.folder_layout.WINDOW_FILE`), whence tf_convert_data
records it with the data set and the model.
"""

from __future__ import annotations

import json

from dicom.decoding.intensity_window import IntensityWindow
from dicom.ingestion.catalog import WINDOW_SETTING, Catalog

NO_WINDOW = "none"


def _text(window: IntensityWindow | None) -> str:
    return NO_WINDOW if window is None else json.dumps(window.to_dict(), sort_keys=True)


def catalog_window(catalog: Catalog) -> dict | None:
    """The recorded window ({center, width, name}), or None."""
    recorded = catalog.setting(WINDOW_SETTING)
    if recorded is None or recorded == NO_WINDOW:
        return None
    return json.loads(recorded)


def require_same_window(catalog: Catalog, window: IntensityWindow | None) -> None:
    """Record this ingest's window in a new catalog, or check it against the recorded one."""
    wanted = _text(window)
    recorded = catalog.setting(WINDOW_SETTING)
    if recorded is None:
        if catalog.count() > 0 and window is not None:
            raise ValueError(f"{catalog.describe()} holds images displayed through their own "
                             "windows: --window needs a new catalog")
        recorded = catalog.record_setting(WINDOW_SETTING, wanted)
    if recorded != wanted:
        def described(text: str) -> str:
            if text == NO_WINDOW:
                return "without --window"
            window = IntensityWindow.from_dict(json.loads(text))
            return f"with --window {window.describe() if window else text}"

        raise ValueError(f"{catalog.describe()} was built {described(recorded)}, but this "
                         f"ingest asks {described(wanted)}: use the same --window, or a new "
                         "catalog")
