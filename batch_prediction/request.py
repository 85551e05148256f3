"""What one classify_image run is asked to do: its flags' values, checked together."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassifyRequest:
    checkpoint_path: str
    infile: str | None = None
    tfrecord: bool = False
    outfile: str | None = None
    db_url: str | None = None
    query: str | None = None
    column: str = "body_part"
    label_set: str | None = None
    batch_size: int = 32
    top_k: int = 5
    output_dir: str | None = None
    """Segmentation: where the masks and overlays go."""
    tile_overlap: float = 0.5
    dicom_output_dir: str | None = None
    sr_per: str = "image"
    seg_type: str = "binary"
    result_codes: str | None = None
    store_to: str | None = None
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
