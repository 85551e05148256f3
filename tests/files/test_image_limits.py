"""Decompression bombs stop at the header: the same pixel limit in every reader."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

from datasets.input_pipeline.model_input import InputSpec, model_input
from datasets.records.record_images import UnreadableImage, load_record_image
from dicom.preprocessing.folder import preprocess_folder
from files.image_limits import MAX_IMAGE_PIXELS, ImageTooLarge
from files.png_codec import decode_png, write_image


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG of a few KB whose rows of zeros would inflate to width x height bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compressobj(9)
    data = b"".join(rows.compress(b"\x00" * (width + 1)) for _ in range(64)) + rows.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data)
            + _chunk(b"IEND", b""))


def test_the_bomb_is_small_and_declares_900_megapixels():
    bomb = png_bomb()
    assert len(bomb) < 100_000 and bomb[12:16] == b"IHDR"
    assert struct.unpack(">II", bomb[16:24]) == (30000, 30000)  # width, height
    assert MAX_IMAGE_PIXELS < 30000 * 30000


def test_every_reader_refuses_it_before_inflating(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb())
    with pytest.raises(UnreadableImage, match="too large: 30000x30000 = 900,000,000 pixels"):
        load_record_image(str(path))  # tf_convert_data's probe, classify_image's files
    with pytest.raises(ImageTooLarge):
        decode_png(path.read_bytes())  # preprocess_image
    with pytest.raises(tf.errors.InvalidArgumentError, match="image too large"):
        model_input(tf.constant(path.read_bytes()), InputSpec(1, (32, 32)))  # in-graph


def test_preprocess_image_skips_it_and_goes_on(tmp_path):
    (tmp_path / "in" / "images").mkdir(parents=True)
    (tmp_path / "in" / "images" / "bomb.png").write_bytes(png_bomb())
    write_image(str(tmp_path / "in" / "images" / "fine.png"), np.zeros((8, 8), np.uint8))
    summary = preprocess_folder(str(tmp_path / "in"), "contrast_enhancing", 4,
                                str(tmp_path / "out"), progress=False)
    assert summary.written == 1
    assert summary.failed[0][0] == "bomb.png" and "too large" in summary.failed[0][1]


@pytest.mark.slow
def test_tf_convert_data_and_classify_image_report_it_in_one_line(tmp_path):
    from tests.support.cli import run_module
    from tests.support.folders import classification_folder
    from training.loop.run_config import RunConfig
    from training.serving.prediction import inputs_for

    classification_folder(str(tmp_path / "in"), {"A": 4, "B": 4}, size=32)
    (tmp_path / "in" / "images" / "bomb.png").write_bytes(png_bomb())
    (tmp_path / "in" / "labels" / "bomb.txt").write_text("A\n")
    flags = ["--dataset_name=dicom", f"--dataset_dir={tmp_path / 'in'}", "--need_split=None"]
    refused = run_module("tf_convert_data", *flags, f"--output_dir={tmp_path / 'r1'}",
                         fresh=True)  # a fresh interpreter: its start-up is checked
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "bomb.png: unreadable image: too large: 30000x30000" in refused.stderr
    assert "cuInit" not in refused.stderr and "oneDNN" not in refused.stderr  # quiet start
    skipped = run_module("tf_convert_data", *flags, f"--output_dir={tmp_path / 'r2'}",
                         "--skip_invalid")
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipped" in skipped.stderr and "too large" in skipped.stderr
    assert "wrote 8 classification records" in skipped.stdout
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'in' / 'images' / 'bomb.png'}\n"
                       f"{tmp_path / 'in' / 'images' / '000000.png'}\n")
    config = RunConfig("mobilenet_v2_035", 32, 1, ["A", "B"])
    reasons = [value for _, value in inputs_for(str(listing), False, config)]
    assert reasons[0].startswith("unreadable: too large: 30000x30000")  # classify's ERROR
    assert reasons[1].shape == (32, 32, 1)  # and the run goes on
