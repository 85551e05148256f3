"""The one pixel limit every image reader checks from the header, before decoding.

A PNG of under a megabyte can declare 30000 x 30000 pixels and inflate to
gigabytes; a JPEG header can claim 40000 x 40000. Readers look at the declared
size first (PNG's IHDR, the JPEG frame header via Pillow's lazy open, in-graph
via the same header bytes) and refuse anything above MAX_IMAGE_PIXELS with a
reason naming both numbers. 100 megapixels is twice the largest radiographs
(full-field mammography, ~5000 x 6000 at 30 MP) and far below what would
exhaust memory.
"""

from __future__ import annotations

from PIL import Image

MAX_IMAGE_PIXELS = 100_000_000
# This check replaces Pillow's (a warning above 89 MP, an uncaught DecompressionBombError
# above 179 MP, both from Image.open): ours runs right after the same header-only open.
Image.MAX_IMAGE_PIXELS = None
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageTooLarge(ValueError):
    """An image whose header declares more pixels than MAX_IMAGE_PIXELS."""


def check_pixels(width: int, height: int, limit: int = MAX_IMAGE_PIXELS) -> None:
    """ImageTooLarge when `width` x `height` is over `limit` pixels (decompression bombs)."""
    if width * height > limit:
        raise ImageTooLarge(f"too large: {width}x{height} = {width * height:,} pixels, over the "
                            f"limit of {limit:,}")


def scaled_size(height: int, width: int, max_size: int) -> tuple[int, int]:
    """(height, width) with the longer side at most `max_size`, rounded half up."""
    longer = max(height, width)
    if longer <= max_size:
        return height, width
    return (max(1, (height * max_size + longer // 2) // longer),
            max(1, (width * max_size + longer // 2) // longer))
