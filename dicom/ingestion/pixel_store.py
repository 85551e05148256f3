"""A pixel store outside SQL: the catalog's PNGs as content-addressed files.

`create_database --image_store URL` writes each PNG to `URL/ab/cd/<sha256>.png`
and the row keeps `image_uri` and `image_sha256` instead of the bytes, so a
MIMIC-sized catalog does not push terabytes through one SQL server and its
`max_allowed_packet`. The same PNG is one file however often it is ingested. A
local folder is written atomically (a temporary file, fsync, rename); any other
URL (`s3://`, `gs://`, `memory://`, ...) goes through fsspec, whose object stores
write an object whole or not at all. A blob is written before its row is
committed, so a killed ingest can leave an orphan (listed by
`python -m dicom.verify_store`) but never a row without its blob.

Every reader checks the digest: a missing blob or one whose bytes changed is one
error naming the image ID.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

BLOB_SUFFIX = ".png"
STORE_COLUMNS = ("image_uri", "image_sha256")
REPAIR = ("python -m dicom.verify_store --forget_broken drops such rows, and create_database "
          "on their sources then writes them again")


class PixelStoreError(ValueError):
    """A blob is missing or no longer matches its digest (the message names the image)."""


def _is_local(url: str) -> bool:
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def _local_path(url: str) -> str:
    return urlparse(url).path if url.startswith("file://") else url


class PixelStore:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.local = _is_local(url)
        if self.local:
            self.root = os.path.abspath(_local_path(self.url))
            self.fs: Any = None  # fsspec's filesystem on a remote URL
        else:
            import fsspec

            self.fs, self.root = fsspec.core.url_to_fs(self.url)

    def check_writable(self) -> None:
        """Fail now, in one line, rather than in every worker."""
        try:
            if self.local:
                os.makedirs(self.root, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                    pass
            else:
                self.fs.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise PixelStoreError(f"--image_store {self.url} cannot be written: "
                                  f"{exc.strerror or exc}") from None

    def describe(self) -> str:
        """The store as logs name it: its folder or URL."""
        return self.root if self.local else self.url

    def key(self, sha256: str) -> str:
        """The blob's key for a PNG digest: content-addressed, two levels of folders."""
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{BLOB_SUFFIX}"

    def uri(self, sha256: str) -> str:
        """What the catalog's `image_uri` holds: the blob's full location."""
        if self.local:
            return os.path.join(self.root, self.key(sha256))
        return f"{self.url}/{self.key(sha256)}"

    def put(self, png: bytes) -> tuple[str, str]:
        """Store `png` (once per content); returns (uri, sha256)."""
        sha256 = hashlib.sha256(png).hexdigest()
        uri = self.uri(sha256)
        if self.local:
            _write_local(uri, png, sha256)
        else:
            if not (self.fs.exists(uri) and self.fs.size(uri) == len(png)):
                self.fs.makedirs(uri.rsplit("/", 1)[0], exist_ok=True)
                with self.fs.open(uri, "wb") as handle:
                    handle.write(png)
        return uri, sha256

    def remove(self, uri: str) -> None:
        """Removes the blob at `uri`."""
        if self.local:
            os.remove(uri)
        else:
            self.fs.rm(uri)

    def leftovers(self) -> Iterator[str]:
        """Temporary files of writes that never finished (a killed ingest)."""
        if not self.local:
            return
        for base, _, names in os.walk(self.root):
            for name in sorted(names):
                if name.endswith(".partial"):
                    yield os.path.join(base, name)

    def blobs(self) -> Iterator[str]:
        """The URI of every blob in the store (for the orphan check)."""
        if self.local:
            for base, _, names in os.walk(self.root):
                for name in sorted(names):
                    if name.endswith(BLOB_SUFFIX):
                        yield os.path.join(base, name)
            return
        for path in sorted(self.fs.find(self.root)):
            if path.endswith(BLOB_SUFFIX):
                yield self.fs.unstrip_protocol(path)


def _write_local(path: str, data: bytes, sha256: str) -> None:
    if os.path.exists(path) and os.path.getsize(path) == len(data):
        with open(path, "rb") as handle:
            if hashlib.sha256(handle.read()).hexdigest() == sha256:
                return  # content-addressed: already there (a damaged copy is rewritten)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def read_blob(uri: str, sha256: str, image_id: str) -> bytes:
    """The PNG at `uri`, checked against `sha256`."""
    try:
        if _is_local(uri):
            with open(_local_path(uri), "rb") as handle:
                data = handle.read()
        else:
            import fsspec

            with fsspec.open(uri, "rb") as handle:
                data = handle.read()
    except FileNotFoundError:
        raise PixelStoreError(f"image {image_id}: its blob {uri} is missing from the pixel "
                              f"store; {REPAIR}") from None
    except OSError as exc:
        raise PixelStoreError(f"image {image_id}: its blob {uri} cannot be read: "
                              f"{exc.strerror or exc}") from None
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise PixelStoreError(f"image {image_id}: its blob {uri} no longer matches its SHA-256 "
                              f"(catalog {sha256[:12]}..., file {found[:12]}...); {REPAIR}")
    return data


def stored_png(record: Mapping[str, Any], image_id: str) -> bytes:
    """A catalog row's PNG: its bytes, or its blob in the pixel store (digest checked)."""
    image = record["image"]
    if image is not None:
        return bytes(image)
    uri = record.get("image_uri") if hasattr(record, "get") else None
    if not uri:
        raise PixelStoreError(f"image {image_id}: the row has neither PNG bytes nor a pixel "
                              "store URI")
    return read_blob(uri, record["image_sha256"], image_id)
