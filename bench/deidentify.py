"""De-identification's cost, and OCR redaction's speed, measured in one run.

    make bench-deid     (or: python -m bench.deidentify --num_files 200 --size 512)

Peer: the same per-file ingest work (read, hash, parse, decode, PNG-encode, cleanse) in
one process without --deidentify. Measured: the same with --deidentify (the Basic
Profile from Table E.1-1, no OCR); target (issue 28) >= 0.9x the peer at 512 px. Rounds
alternate the two, each one's best round is compared. Then OCR redaction
(--burned_in redact) in images per second at 512 and 1024 px.
"""

from __future__ import annotations

import os
import time

from absl import app, flags

from dicom.ingestion.file_processing import FileProcessor, IngestSettings
from dicom.ingestion.ingest import iter_files
from dicom.metadata.burned_in import redact_text
from dicom.synthetic.burned_in_text import text_frame
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_files", 200, "Synthetic files per round.")
flags.DEFINE_integer("size", 512, "Image size of the synthetic files.")
flags.DEFINE_integer("rounds", 3, "Alternating rounds; each side's best is compared.")
flags.DEFINE_integer("ocr_images", 8, "Images per size for the OCR redaction figure.")
flags.DEFINE_string("work_dir", "bench_output/deidentify", "Where the synthetic files go.")


def _files() -> list[str]:
    folder = os.path.join(FLAGS.work_dir, f"files-{FLAGS.num_files}-{FLAGS.size}")
    if not os.path.isdir(folder):
        synthesize(folder, SyntheticSpec(num_images=FLAGS.num_files, seed=1, size=FLAGS.size,
                                          defects=False))
    return list(iter_files(folder))


def _rate(paths: list[str], settings: IngestSettings) -> float:
    processor = FileProcessor(settings, {})
    start = time.perf_counter()
    for path in paths:
        outcome = processor(path)
        assert outcome.status == "new", outcome.reject
    return len(paths) / (time.perf_counter() - start)


def main(argv: list[str]) -> None:
    del argv
    paths = _files()
    plain = IngestSettings(root=os.path.abspath(FLAGS.work_dir))
    deid = IngestSettings(root=plain.root, deid_key=b"benchmark-key-of-some-length")
    best = {"plain": 0.0, "deidentify": 0.0}
    for round_number in range(FLAGS.rounds):
        for name, settings in (("plain", plain), ("deidentify", deid)):
            rate = _rate(paths, settings)
            best[name] = max(best[name], rate)
            print(f"round {round_number + 1} {name}: {rate:.1f} files/s")
    print(f"ingest work at {FLAGS.size} px, one core: plain {best['plain']:.1f} files/s, "
          f"--deidentify {best['deidentify']:.1f} files/s, ratio "
          f"{best['deidentify'] / best['plain']:.2f}x (target 0.9x)")
    for size in (512, 1024):
        images = [text_frame(size, (f"DOE JOHN {seed}", "MRN 4711 2025-01-01"), seed)
                  for seed in range(FLAGS.ocr_images)]
        start = time.perf_counter()
        regions = sum(len(redact_text(image)[1]) for image in images)
        elapsed = time.perf_counter() - start
        print(f"OCR redaction at {size} px: {len(images) / elapsed:.2f} images/s "
              f"({regions} regions in {len(images)} images)")


if __name__ == "__main__":
    app.run(main)
