"""Input images (PNG 8/16-bit, JPEG, DICOM) to the bytes stored in a TFRecord.

PNG in gray (8 or 16 bit) or RGB and baseline JPEG are stored as they are on
disk, so conversion never re-encodes (and never loses) a pixel; other PNG
modes (palette, alpha, 1/2/4-bit, 16-bit RGB) become 8/16-bit gray or 8-bit
RGB PNG. The pixel record formats store the decoded pixels instead: `planar`
(the default: byte planes, compressed where it pays; within about 15 % of PNG's
size and quick to read) and `raw` (uncompressed, little-endian, row-major,
H x W x C: nothing to decode, a third to a half more disk than PNG). DICOM goes
through the same decoding as ingestion (Modality LUT, VOI/window, MONOCHROME1)
and is stored as 16-bit PNG;
a multi-frame DICOM is refused, since one record is one image (classify_image
reads each of its frames: `load_frames`).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydicom.dataset import Dataset

from datasets.records.planar_pixels import PLANAR, decode_planes, encode_planes
from dicom.decoding.display import display_frames, frame_count
from dicom.decoding.intensity_window import IntensityWindow, WindowNotApplicable
from dicom.decoding.limits import read_image
from dicom.decoding.reading import NOT_DICOM, RejectedFile
from files.image_limits import PNG_SIGNATURE, ImageTooLarge, check_pixels
from files.png_codec import decode_png, encode_png

JPEG_MAGIC = b"\xff\xd8\xff"
_STORED_AS_IS = {"L": 8, "I;16": 16, "I;16B": 16, "RGB": 8}


class UnreadableImage(Exception):
    """The file is not an image this converter can store; the message says why."""


@dataclass(frozen=True)
class RecordImage:
    data: bytes
    format: str
    height: int
    width: int
    channels: int
    bit_depth: int


def load_record_image(path: str, verify: bool = True,
                      intensity_window: IntensityWindow | None = None) -> RecordImage:
    """Read `path` into record bytes.

    `verify=True` checks that the pixel data is whole: every PNG chunk's CRC
    (which catches truncated and corrupted files without inflating them) and a
    full JPEG decode. The conversion's probe pass verifies; its write pass trusts.
    """
    data = _read(path)
    if data.startswith(PNG_SIGNATURE) or data.startswith(JPEG_MAGIC):
        if intensity_window is not None:
            raise WindowNotApplicable(f"{path}: --window applies to DICOM files in "
                                      "Hounsfield units; this is a PNG or JPEG image")
        return _from_pillow(data, verify)
    return _from_dicom(data, intensity_window, path)


def load_frames(path: str, intensity_window: IntensityWindow | None = None
                ) -> tuple[int, Iterator[RecordImage]]:
    """What a model reads of a file (classify_image): every frame of a multi-frame DICOM
    file, in order, or the one image of any other; with how many there are. A model
    trained on windowed records applies its `intensity_window` to DICOM files (PNG and
    JPEG images are display images already and are read as they are)."""
    data = _read(path)
    if data.startswith(PNG_SIGNATURE) or data.startswith(JPEG_MAGIC):
        return 1, iter([_from_pillow(data, verify=True)])
    dataset = _dicom_dataset(data)
    frames = display_frames(dataset, release=True, intensity_window=intensity_window,
                            source=path)
    try:
        first = next(frames)  # decodes them all: a damaged file fails here, whole
    except RejectedFile as exc:
        raise UnreadableImage(exc.reason) from exc
    except WindowNotApplicable as exc:
        raise UnreadableImage(str(exc).removeprefix(f"{path}: ")) from exc
    count = frame_count(dataset)
    return count, (from_array(f) for f in itertools.chain([first], frames))


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UnreadableImage(f"cannot read: {exc.strerror or exc}") from exc
    if not data:
        raise UnreadableImage("empty file")
    return data


def _from_pillow(data: bytes, verify: bool) -> RecordImage:
    fmt = "png" if data.startswith(PNG_SIGNATURE) else "jpeg"
    try:
        with Image.open(io.BytesIO(data)) as pil:  # lazy: reads the header only
            mode, (width, height) = pil.mode, pil.size
            check_pixels(width, height)
            if verify and fmt == "png":
                pil.verify()
            elif verify:
                pil.load()
            if fmt == "jpeg" and mode in ("L", "RGB"):
                return RecordImage(data, fmt, height, width, 1 if mode == "L" else 3, 8)
            if fmt == "png" and _STORED_AS_IS.get(mode) == _png_bit_depth(data):
                return RecordImage(
                    data, fmt, height, width, 3 if mode == "RGB" else 1, _STORED_AS_IS[mode]
                )
        with Image.open(io.BytesIO(data)) as pil:  # verify() leaves `pil` unusable
            pil.load()
            return _reencoded(pil)
    except ImageTooLarge as exc:
        raise UnreadableImage(str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage(f"not a readable {fmt.upper()} image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"corrupt {fmt.upper()} image: {_one_line(exc)}") from exc


def _png_bit_depth(data: bytes) -> int:
    """Bit depth from the IHDR chunk (byte 24): Pillow reports 16-bit RGB as 8-bit 'RGB'."""
    return data[24] if len(data) > 24 else 0


def _reencoded(pil: Image.Image) -> RecordImage:
    if pil.mode in ("I", "I;16", "I;16B", "I;16L"):
        array = np.clip(np.asarray(pil, dtype=np.int64), 0, 65535).astype(np.uint16)
    elif pil.mode in ("1", "L", "LA") or (pil.mode == "P" and _palette_is_gray(pil)):
        array = np.asarray(pil.convert("L"))
    else:
        array = np.asarray(pil.convert("RGB"))
    return from_array(array)


def _palette_is_gray(pil: Image.Image) -> bool:
    colours = np.asarray(pil.convert("RGB"))
    return bool((colours == colours[..., :1]).all())


def to_raw(image: RecordImage, bit_depth: int) -> RecordImage:
    """Decoded pixels at `bit_depth` (8-bit images are scaled by 257 into 16 bits)."""
    if image.format == "raw":
        return image
    array = _pixels_at(image, bit_depth)
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return RecordImage(data, "raw", image.height, image.width, image.channels, bit_depth)


def to_planar(image: RecordImage, bit_depth: int) -> RecordImage:
    """Decoded pixels at `bit_depth` as byte planes (datasets.records.planar_pixels)."""
    if image.format == PLANAR:
        return image
    data = encode_planes(_pixels_at(image, bit_depth))
    return RecordImage(data, PLANAR, image.height, image.width, image.channels, bit_depth)


def stored_pixels(image: RecordImage, bit_depth: int, image_format: str) -> RecordImage:
    """`image` in the record format `image_format` (`png` keeps it as it came)."""
    if image_format == "raw":
        return to_raw(image, bit_depth)
    if image_format == PLANAR:
        return to_planar(image, bit_depth)
    return image


def _pixels_at(image: RecordImage, bit_depth: int) -> np.ndarray:
    array = decode_png(image.data) if image.format == "png" else _decode_jpeg(image.data)
    if bit_depth == 16 and array.dtype == np.uint8:
        array = array.astype(np.uint16) * 257
    elif bit_depth == 8 and array.dtype == np.uint16:
        raise ValueError("a 16-bit image cannot be stored as 8-bit pixels")
    return array


def as_png(data: bytes, image_format: str, height: int, width: int, channels: int) -> bytes:
    """Stored record bytes as a file would hold them: PNG and JPEG as they are, raw and
    planar pixels encoded as PNG (lossless) for tools outside TensorFlow."""
    if image_format == "raw":
        dtype = "<u2" if len(data) == 2 * height * width * channels else np.uint8
        pixels = np.frombuffer(data, dtype).reshape(height, width, channels)
    elif image_format == PLANAR:
        pixels = decode_planes(data, height, width, channels)
    else:
        return data
    return encode_png(pixels[..., 0] if channels == 1 else pixels)


def scaled_record_image(image: RecordImage, max_size: int | None) -> RecordImage:
    """`image` with its longer side scaled down to `max_size` (`--max_image_size`), as a PNG
    of its own bit depth; by the TensorFlow function serving applies to larger inputs."""
    if not max_size or max(image.height, image.width) <= max_size:
        return image
    import tensorflow as tf

    from datasets.input_pipeline.model_input import encoded_levels
    from datasets.input_pipeline.size_limit import UINT16_TOP, limit_size

    levels, bits = encoded_levels(tf.constant(image.data))
    values = np.rint(limit_size(levels, bits, max_size).numpy() * UINT16_TOP).astype(np.uint16)
    if int(bits) <= 8:
        values = (values // 257).astype(np.uint8)  # exact: 8-bit levels were scaled by 257
    return from_array(values[..., 0] if values.shape[-1] == 1 else values)


def scaled_mask(mask: np.ndarray, max_size: int | None) -> np.ndarray:
    """A label mask scaled like its image (nearest neighbour)."""
    if not max_size or max(mask.shape) <= max_size:
        return mask
    import tensorflow as tf

    from datasets.input_pipeline.size_limit import limit_mask_size

    return limit_mask_size(tf.constant(mask), max_size).numpy()


def _decode_jpeg(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as pil:
        return np.asarray(pil)


def from_array(array: np.ndarray) -> RecordImage:
    """A uint8/uint16 gray or uint8 RGB array as a PNG record image."""
    channels = 3 if array.ndim == 3 else 1
    return RecordImage(
        encode_png(array), "png", array.shape[0], array.shape[1], channels,
        16 if array.dtype == np.uint16 else 8,
    )


def _dicom_dataset(data: bytes) -> Dataset:
    try:
        return read_image(data)
    except RejectedFile as exc:
        if exc.kind == NOT_DICOM:
            raise UnreadableImage("not a PNG, JPEG or DICOM image") from exc
        raise UnreadableImage(exc.reason) from exc


def _from_dicom(data: bytes, intensity_window: IntensityWindow | None = None,
                source: str = "the image") -> RecordImage:
    dataset = _dicom_dataset(data)
    try:
        if frame_count(dataset) > 1:
            raise UnreadableImage(
                f"multi-frame DICOM ({frame_count(dataset)} frames): one record holds one "
                "image; ingest it and fetch the frames as PNGs"
            )
        return from_array(next(display_frames(dataset, release=True,
                                              intensity_window=intensity_window,
                                              source=source)))
    except RejectedFile as exc:
        raise UnreadableImage(exc.reason) from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
