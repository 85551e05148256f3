"""What one classify_image run is asked to do: each option with its default and help,
spelled once (console.options); classify_image's flags are made from these fields and
checked together by `check`."""

from __future__ import annotations

from dataclasses import dataclass

from console.options import option


@dataclass(frozen=True)
class ClassifyRequest:
    """One classify_image run: its inputs, its outputs and where the results go."""

    checkpoint_path: str
    infile: str | None = option(None, "Text file of image paths, or TFRecord file/glob.")
    tfrecord: bool = option(False, "--infile is a TFRecord file or glob.")
    outfile: str | None = option(None, "Where the predictions go (default: stdout).")
    db_url: str | None = option(
        None, "Read the inputs from this catalog instead of --infile (with --query, --column "
        "and/or --label_set); their results name the catalog IDs, and DICOM results carry "
        "the catalog's (possibly de-identified) values.")
    query: str | None = option(
        None, "With --db_url: value(s) of --column to classify (CHEST, CHEST,ABDOMEN) or "
        "'all'.")
    column: str = option("body_part", "With --db_url: the catalog column --query matches.")
    label_set: str | None = option(None, "With --db_url: only the images of this label set.")
    batch_size: int = option(32, "Images per forward pass.", lower_bound=1)
    top_k: int = option(5, "How many classes to list per input.", lower_bound=1)
    output_dir: str | None = option(
        None, "Segmentation models: where <input>_mask.png (class index per pixel) and "
        "<input>_overlay.png go.")
    tile_overlap: float = option(
        0.5, "Segmentation: overlap of the sliding-window tiles over inputs larger than the "
        "training size (0 to 0.9).", lower_bound=0.0, upper_bound=0.9)
    dicom_output_dir: str | None = option(
        None, "Also write DICOM results here (DICOM inputs only): a Comprehensive 3D SR "
        "(TID 1500) per image or study for a classifier, a SEG per source series for a "
        "segmentation model; results.json lists them. Always written before anything is "
        "sent to --store_to.")
    sr_per: str = option("image", "One SR per source image, or one per study holding all its "
                         "images.", choices=["image", "study"])
    seg_type: str = option("binary", "SEG of class labels, or of each class's probability "
                           "(8-bit).", choices=["binary", "fractional"])
    result_codes: str | None = option(
        None, 'JSON map of class names to codes: {"classes": {"CHEST": {"value": "816094009", '
        '"scheme_designator": "SCT", "meaning": "Chest"}}, "segments": {"blood_pool": '
        '{"category": {...}, "type": {...}}}}. Defaults cover the synthetic body parts and '
        "findings and the cardiac classes; other names become local codes (scheme 99MEDCV).")
    store_to: str | None = option(
        None, "Then send the DICOM results to a PACS: dicomweb+http(s)://HOST:PORT/PATH "
        "(STOW-RS) or dimse://AET@HOST:PORT (C-STORE). A re-run sends only what it has not "
        "acknowledged. Credentials and TLS as for dicom.pull.")
    progress: bool = False

    def check(self) -> None:
        """ValueError in one line for flags that do not go together."""
        if not self.checkpoint_path or not (self.infile or self.db_url):
            raise ValueError("--checkpoint_path and --infile (or --db_url with --query) are "
                             "required")
        if self.db_url and self.infile:
            raise ValueError("give --infile or --db_url, not both")
        if self.db_url and not (self.query or self.label_set):
            raise ValueError("--db_url needs --query (or --label_set): which images to classify")
        if self.store_to and not self.dicom_output_dir:
            raise ValueError("--store_to needs --dicom_output_dir: results are written "
                             "locally first, so nothing is lost when the PACS is down")
