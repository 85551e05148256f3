"""The node's STOW-RS endpoint (PS3.18 10.5): `POST .../studies[/{StudyInstanceUID}]` with
`multipart/related; type="application/dicom"`.

Each part is streamed to the spool (memory stays at one read buffer, whatever the size),
made durable and queued through the same path as a C-STORE, so the response, sent only
once every part is durable and committed, is the acknowledgement: 200 when every
instance was taken, 202 when some were refused, 409 when none was. The body names each
instance taken (Referenced SOP Sequence) and each refused, with its failure reason
(Failed SOP Sequence), in DICOM JSON. A body that is not multipart DICOM is 415; a spool
that is nearly full is 503 before anything is read.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO

import pydicom

from dicom.network.spool import InstanceTooLarge, Spool, SpoolFull
from node.receiving import NodeReceiver, Unreadable

log = logging.getLogger(__name__)

_READ = 1 << 16
_PATH = re.compile(r"^(?:/[^?#]*)?/studies(?:/(?P<study>[0-9.]{1,64}))?/?$")
_MAX_HEADER_BYTES = 16 << 10
CANNOT_UNDERSTAND = 0xC000
"""Failure Reason (0008,1197): Processing failure / cannot understand."""
OUT_OF_RESOURCES = 0xA700
STUDY_MISMATCH = 0xA900
"""The instance is not of the study the request's path names (PS3.18 table 10.5.3-1
calls it a mismatch; 0xA900 is the Storage Service's dataset-does-not-match code)."""


class BadRequest(ValueError):
    """The body is not what a STOW-RS request carries; the reply's status and text."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def multipart_boundary(content_type: str) -> bytes:
    """The boundary of a `multipart/related; type="application/dicom"` request; BadRequest
    (415) for any other body."""
    kind, _, parameters = content_type.partition(";")
    values = {}
    for parameter in re.finditer(r'\s*([A-Za-z-]+)\s*=\s*("([^"]*)"|[^;\s]+)', parameters):
        values[parameter.group(1).lower()] = parameter.group(3) if parameter.group(
            3) is not None else parameter.group(2)
    if kind.strip().lower() != "multipart/related":
        raise BadRequest(415, f"Content-Type {kind.strip() or 'missing'}: STOW-RS takes "
                         'multipart/related; type="application/dicom"')
    if values.get("type", "application/dicom").lower() != "application/dicom":
        raise BadRequest(415, f"multipart type {values['type']}: only application/dicom parts "
                         "are taken (no metadata + bulk data)")
    boundary = values.get("boundary", "")
    if not boundary or len(boundary) > 70:
        raise BadRequest(400, "the multipart Content-Type has no usable boundary")
    return boundary.encode("latin-1")


def _chunked(stream: BinaryIO | io.BufferedIOBase) -> Iterator[bytes]:
    """The body of a `Transfer-Encoding: chunked` request."""
    while True:
        line = stream.readline(1024)
        try:
            size = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise BadRequest(400, "malformed chunked body") from None
        if size == 0:
            while stream.readline(1024).strip():  # trailers
                pass
            return
        left = size
        while left:
            data = stream.read(min(left, _READ))
            if not data:
                raise BadRequest(400, "the body ended inside a chunk")
            left -= len(data)
            yield data
        stream.readline(8)


def _sized(stream: BinaryIO | io.BufferedIOBase, length: int) -> Iterator[bytes]:
    left = length
    while left:
        data = stream.read(min(left, _READ))
        if not data:
            raise BadRequest(400, f"the body ended {left:,} bytes short of its Content-Length")
        left -= len(data)
        yield data


def split_parts(body: Iterator[bytes], boundary: bytes) -> Iterator[Iterator[bytes]]:
    """Each part's content (headers dropped) as a stream of chunks, in order; a part must
    be read to its end before the next is asked for. Memory: one chunk plus a delimiter."""
    delimiter = b"\r\n--" + boundary
    buffer = b"\r\n"  # the first delimiter has no CRLF before it
    chunks = iter(body)

    def more() -> bool:
        nonlocal buffer
        data = next(chunks, b"")
        buffer += data
        return bool(data)

    while delimiter not in buffer:
        if not more():
            raise BadRequest(400, "no multipart boundary in the body")
    buffer = buffer[buffer.index(delimiter) + len(delimiter):]
    while True:
        while len(buffer) < 2 and more():
            pass
        if buffer.startswith(b"--"):
            return  # the close delimiter
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > _MAX_HEADER_BYTES or not more():
                raise BadRequest(400, "a multipart part has no end to its headers")
        headers, buffer = buffer.split(b"\r\n\r\n", 1)
        part_type = re.search(rb"(?im)^content-type:\s*([^;\r\n]+)", headers)
        if part_type and part_type.group(1).strip().lower() != b"application/dicom":
            raise BadRequest(415, f"a part of type {part_type.group(1).decode('latin-1')}: "
                             "only application/dicom parts are taken")
        ended = False

        def content() -> Iterator[bytes]:
            nonlocal buffer, ended
            while True:
                found = buffer.find(delimiter)
                if found >= 0:
                    yield buffer[:found]
                    buffer = buffer[found + len(delimiter):]
                    ended = True
                    return
                keep = len(delimiter)  # a delimiter may straddle two reads
                if len(buffer) > keep:
                    yield buffer[:-keep]
                    buffer = buffer[-keep:]
                if not more():
                    raise BadRequest(400, "the body ended inside a part")

        yield content()
        if not ended:
            for _ in content():  # the caller stopped early: skip the rest of the part
                pass


@dataclass
class StowOutcome:
    """What one request did: the instances taken and those refused, with reasons."""

    taken: list[tuple[str, str]] = field(default_factory=list)
    """(SOP Class UID, SOP Instance UID) of each instance now queued."""
    failed: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(SOP Class UID, SOP Instance UID, Failure Reason, why) of each refused one."""

    @property
    def status(self) -> int:
        """The STOW-RS answer's HTTP status: 200 all taken, 202 some, 409 none."""
        if not self.failed:
            return 200
        return 202 if self.taken else 409

    def response(self) -> bytes:
        """The DICOM JSON body: Referenced SOP Sequence and Failed SOP Sequence."""
        def item(sop_class: str, sop_uid: str) -> dict:
            return {"00081150": {"vr": "UI", "Value": [sop_class]} if sop_class else
                    {"vr": "UI"}, "00081155": {"vr": "UI", "Value": [sop_uid]} if sop_uid
                    else {"vr": "UI"}}

        body: dict = {}
        if self.taken:
            body["00081199"] = {"vr": "SQ", "Value": [item(c, u) for c, u in self.taken]}
        if self.failed:
            body["00081198"] = {"vr": "SQ", "Value": [
                {**item(c, u), "00081197": {"vr": "US", "Value": [reason]}}
                for c, u, reason, _ in self.failed]}
        return json.dumps(body).encode()


class StowReceiver:
    """Writes each part of a request to the spool and hands it to the node's receiver."""

    def __init__(self, receiver: NodeReceiver, spool: Spool) -> None:
        self.receiver, self.spool = receiver, spool

    def _one(self, content: Iterator[bytes], study: str | None, caller: str,
             outcome: StowOutcome) -> None:
        temporary = self.spool.temporary_path()
        try:
            self.spool.check_space()  # a long request may fill the disk part by part
            size = 0
            with open(temporary, "wb") as handle:
                for chunk in content:
                    size += len(chunk)
                    if size > self.spool.max_instance_bytes:
                        raise InstanceTooLarge(f"instance over the limit of "
                                               f"{self.spool.max_instance_bytes >> 20} MiB")
                    handle.write(chunk)
            try:
                header = pydicom.dcmread(temporary, stop_before_pixels=True,
                                         specific_tags=["SOPClassUID", "SOPInstanceUID",
                                                        "StudyInstanceUID"])
                sop_class = str(header.get("SOPClassUID", "") or "")
                sop_uid = str(header.get("SOPInstanceUID", "") or "").strip()
                of_study = str(header.get("StudyInstanceUID", "") or "").strip()
            except Exception as exc:  # hostile bytes: any parser error
                raise Unreadable(f"not readable DICOM ({' '.join(str(exc).split())[:120]})"
                                 ) from None
            if not sop_uid:
                raise Unreadable("no SOP Instance UID")
            if study and of_study != study:
                outcome.failed.append((sop_class, sop_uid, STUDY_MISMATCH,
                                       f"of study {of_study}, not {study}"))
                self.receiver.on_refused(sop_uid, f"not of study {study}", caller)
                return
            path = self.spool.adopt(temporary, self.receiver.name_for(sop_uid))
            try:
                self.receiver.accept(path, sop_uid, caller)
            except Unreadable as exc:
                outcome.failed.append((sop_class, sop_uid, CANNOT_UNDERSTAND, str(exc)))
                return
            outcome.taken.append((sop_class, sop_uid))
        except Unreadable as exc:
            outcome.failed.append(("", "", CANNOT_UNDERSTAND, str(exc)))
            self.receiver.on_refused("?", str(exc), caller)
        except OSError as exc:  # over the size limit, or the disk
            outcome.failed.append(("", "", OUT_OF_RESOURCES, str(exc)))
            self.receiver.on_refused("?", str(exc), caller)
            for _ in content:  # the rest of an oversized part, unread
                pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    def receive(self, content_type: str, body: Iterator[bytes], study: str | None,
                caller: str) -> StowOutcome:
        """Take every part of one request; BadRequest when the body is not STOW-RS."""
        boundary = multipart_boundary(content_type)
        self.spool.check_space()
        outcome = StowOutcome()
        for content in split_parts(body, boundary):
            self._one(content, study, caller, outcome)
        return outcome


def _handler(stow: StowReceiver) -> type[BaseHTTPRequestHandler]:
    class StowHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _problem(self, status: int, text: str) -> None:
            self.close_connection = True  # the rest of the body is not read
            self._reply(status, (text + "\n").encode(), "text/plain; charset=utf-8")

        def do_POST(self) -> None:
            matched = _PATH.match(self.path)
            if not matched:
                self._problem(404, f"{self.path[:200]}: STOW-RS is POST .../studies")
                return
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = _chunked(self.rfile)
            else:
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self._problem(411, "a Content-Length (or a chunked body) is required")
                    return
                body = _sized(self.rfile, length)
            caller = f"STOW-RS {self.client_address[0]}"
            try:
                outcome = stow.receive(self.headers.get("Content-Type", ""), body,
                                       matched.group("study"), caller)
            except BadRequest as exc:
                self._problem(exc.status, str(exc))
                return
            except SpoolFull as exc:
                self._problem(503, str(exc))
                return
            self._reply(outcome.status, outcome.response(), "application/dicom+json")

        def do_GET(self) -> None:
            self._problem(405, "this endpoint takes STOW-RS (POST .../studies) only")

        def log_message(self, format: str, *args) -> None:
            log.debug("stow-rs %s: " + format, self.client_address[0], *args)

    return StowHandler


def serve_stowrs(stow: StowReceiver, address: str, port: int) -> ThreadingHTTPServer:
    """The endpoint, serving on a thread of its own until `shutdown()`."""
    try:
        server = ThreadingHTTPServer((address, port), _handler(stow))
    except OSError as exc:
        raise OSError(f"cannot listen on {address}:{port} for STOW-RS: "
                      f"{exc.strerror or exc}; choose another stowrs_port") from None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="stow-rs", daemon=True).start()
    return server
