"""The fingerprint of an instance: SHA-256 of its data set, File Meta Information left out.

The file meta says who wrote the file (implementation UID and version, the sending AE),
not what the instance holds: the same instance retrieved over WADO-RS (the stored file)
and over C-MOVE (a file the receiving side wrote) differs only there. Fingerprinting
the data set makes both, and a folder copy, one instance to the catalog.
"""

from __future__ import annotations

import hashlib
import struct

_PREAMBLE = 132  # 128 bytes and "DICM"
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR",
             b"UT", b"UV"}


def data_set_offset(data: bytes) -> int:
    """Where the data set starts: after the preamble and the group 0002 elements (always
    explicit VR little endian); 0 for a bare data set."""
    if data[128:132] != b"DICM":
        return 0
    offset = _PREAMBLE
    while offset + 8 <= len(data):
        group = struct.unpack_from("<H", data, offset)[0]
        if group != 0x0002:
            break
        vr = data[offset + 4:offset + 6]
        if vr in _LONG_VRS:
            if offset + 12 > len(data):
                break
            offset += 12 + struct.unpack_from("<I", data, offset + 8)[0]
        else:
            offset += 8 + struct.unpack_from("<H", data, offset + 6)[0]
    return min(offset, len(data))


def instance_sha256(data: bytes) -> str:
    """SHA-256 of the file's data set, its preamble and file meta left out, so that the same
    instance sent by different senders has one fingerprint."""
    return hashlib.sha256(memoryview(data)[data_set_offset(data):]).hexdigest()
