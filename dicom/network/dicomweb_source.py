"""Pull over DICOMweb: QIDO-RS to search (dicomweb-client), WADO-RS to retrieve each
instance in its stored transfer syntax, streamed to the spool.

dicomweb-client parses what it retrieves into pydicom datasets in memory; a pull wants
the bytes as stored, never a whole series in memory and never more than the size limit,
so retrieval streams the multipart answer through our session to disk. The client's own
retries are off (they made an unreachable server fail after 30 s of silence); ours retry
5xx, 429 and resets with backoff and count them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.datadict import tag_for_keyword

from dicom.network.instance_filters import RETURN_KEYS, InstanceQuery
from dicom.network.pacs_address import Credentials, PacsAddress
from dicom.network.remote import (
    DEFAULT_TIMEOUTS,
    PacsError,
    RemoteInstance,
    RequestRefused,
    RetryCounter,
    Timeouts,
    TransientError,
)
from dicom.network.spool import Spool

log = logging.getLogger(__name__)
T = TypeVar("T")
STORED_SYNTAX = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_CHUNK = 1 << 20
_MAX_PART_HEADERS = 64 << 10
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}


def open_session(credentials: Credentials, ca_bundle: str | None) -> requests.Session:
    """An HTTP session that sends the credentials (bearer token, else basic) and checks TLS against
    `ca_bundle` or the system's certificates."""
    session = requests.Session()
    if credentials.token:
        session.headers["Authorization"] = f"Bearer {credentials.token}"
    elif credentials.user:
        session.auth = (credentials.user, credentials.password or "")
    session.verify = ca_bundle or True
    session.trust_env = False  # no proxy from the environment: PACS traffic stays direct
    return session


class DicomwebSource:
    def __init__(self, address: PacsAddress, credentials: Credentials,
                 ca_bundle: str | None = None, timeouts: Timeouts = DEFAULT_TIMEOUTS,
                 retries: RetryCounter | None = None) -> None:
        self.address, self.timeouts = address, timeouts
        self.retries = retries or RetryCounter()
        self.session = open_session(credentials, ca_bundle)
        self.client = DICOMwebClient(address.base_url, session=self.session,
                                     timeout=(timeouts.connect_s, timeouts.read_s))
        self.client.set_http_retry_params(retry=False)
        self.batch_size = 1  # one instance per request; --connections run side by side

    def start(self, spool: Spool, name_for: Callable[[str], str]) -> None:
        """Prepares retrieval into `spool`, naming each file by `name_for(sop_uid)`."""
        self._spool, self._name_for = spool, name_for

    def stop(self) -> None:
        """Closes the HTTP session."""
        self.session.close()

    def retrieve_batch(self, instances: list[RemoteInstance]) -> list[str]:
        """Retrieves the instances into the spool; returns the paths of those delivered (a missing
        one is skipped)."""
        paths = [self.retrieve(i, self._spool, self._name_for(i.sop_uid)) for i in instances]
        return [p for p in paths if p is not None]

    def describe(self) -> str:
        """The server's address as logs and errors name it."""
        return self.address.describe()

    def probe(self) -> None:
        """Fail now, in one line, when the server cannot be used: a search for one study."""
        self.call(lambda: self.client.search_for_studies(limit=1), "search", retry=False)

    def search(self, query: InstanceQuery) -> list[RemoteInstance]:
        """The instances that match the query, by QIDO-RS, one per SOP Instance UID, each variant
        of the query searched in turn."""
        keys = list(dict.fromkeys([*RETURN_KEYS, *query.keys]))
        found: dict[str, RemoteInstance] = {}
        for variant in query.variants():
            filters = query.qido_filters(variant)
            answers = self.call(
                functools.partial(self.client.search_for_instances, search_filters=filters,
                                  fields=keys, get_remaining=True), "search")
            for answer in answers:
                attributes = {key: _json_value(answer, key) for key in keys}
                if attributes["SOPInstanceUID"] and query.matches(attributes):
                    found.setdefault(attributes["SOPInstanceUID"], RemoteInstance(
                        attributes["StudyInstanceUID"], attributes["SeriesInstanceUID"],
                        attributes["SOPInstanceUID"], attributes))
        return list(found.values())

    def retrieve(self, instance: RemoteInstance, spool: Spool, name: str) -> str | None:
        """Retrieves one instance by WADO-RS into the spool under `name`; returns its path, or None
        when the server no longer has it. A cut-off transfer leaves no file."""
        url = (f"{self.address.base_url}/studies/{instance.study_uid}/series/"
               f"{instance.series_uid}/instances/{instance.sop_uid}")

        def fetch() -> str | None:
            try:
                response = self._request(url)
            except requests.HTTPError as exc:
                if exc.response is not None and exc.response.status_code in (404, 410):
                    log.warning("%s: %s is gone (HTTP %d)", self.describe(),  # the spool's
                                name, exc.response.status_code)  # name: a pseudonym under deid
                    return None  # deleted since the search: not delivered
                raise
            with response:
                return spool.write(name, _instance_bytes(response))

        return self.call(fetch, f"retrieve {name}")

    def _request(self, url: str) -> requests.Response:
        response = self.session.get(url, headers={"Accept": STORED_SYNTAX}, stream=True,
                                    timeout=(self.timeouts.connect_s, self.timeouts.read_s))
        if response.status_code >= 400:
            response.close()
            response.raise_for_status()
        return response

    def call(self, action: Callable[[], T], what: str, retry: bool = True) -> T:
        """The result of `action`, retried with backoff on connection errors and transient HTTP
        statuses (when `retry`); any other failure becomes a PacsError naming the server and
        `what`."""
        def attempt():
            try:
                return action()
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status in _TRANSIENT_STATUS:
                    raise TransientError(f"HTTP {status}") from None
                line = self._http_error_line(status, what)
                if status in (401, 403) or (status == 404 and what == "search"):
                    raise PacsError(line) from None
                raise RequestRefused(line) from None
            except requests.exceptions.SSLError as exc:
                raise PacsError(
                    f"TLS with {self.describe()} failed ({_first_line(exc)}); check the "
                    "server's certificate or give its CA with --ca_bundle") from None
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                if not retry:
                    raise PacsError(self._connection_line(exc)) from None
                raise TransientError(_first_line(exc)) from None

        if not retry:
            return attempt()
        return self.retries.run(attempt, what, lambda exc: (
            f"{self.describe()} stopped answering ({exc}) after {self.retries.attempts} tries; "
            "what was retrieved is kept, re-run the same command to finish"))

    def _http_error_line(self, status: int, what: str) -> str:
        if status in (401, 403):
            return (f"{self.describe()} refused our credentials (HTTP {status}); check "
                    "$MEDCV_PACS_USER / $MEDCV_PACS_PASSWORD, $MEDCV_PACS_TOKEN or the option file")
        if status == 404 and what == "search":
            return (f"{self.describe()}: no DICOMweb service at this path (HTTP 404); check the "
                    "URL's path, e.g. /dicom-web")
        return f"{self.describe()}: {what} failed with HTTP {status}"

    def _connection_line(self, exc: Exception) -> str:
        text = _first_line(exc)
        if "Name or service not known" in text or "NameResolution" in text or (
                "nodename nor servname" in text):
            return f"cannot resolve the host of {self.describe()}; check the host name"
        if isinstance(exc, requests.Timeout):
            return (f"{self.describe()} did not answer within {self.timeouts.connect_s:g} s; "
                    "check the host, port and firewall")
        return f"cannot connect to {self.describe()} (connection refused?); check host and port"


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _json_value(answer: dict, keyword: str) -> str:
    element = answer.get(f"{tag_for_keyword(keyword):08X}") or {}
    values = element.get("Value") or []
    if not values:
        return ""
    value = values[0]
    if isinstance(value, dict):  # a person name
        value = value.get("Alphabetic", "")
    return str(value).strip()


def _instance_bytes(response: requests.Response) -> Iterator[bytes]:
    """The one instance in a WADO-RS answer, chunk by chunk, without holding it whole."""
    content_type = response.headers.get("Content-Type", "")
    chunks = response.iter_content(_CHUNK)
    if not content_type.lower().startswith("multipart/related"):
        yield from chunks  # a server that sends the part bare
        return
    boundary = None
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"').encode()
    if not boundary:
        raise PacsError(f"WADO-RS answer without a multipart boundary ({content_type[:80]})")
    yield from _first_part(chunks, boundary)


def _first_part(chunks: Iterator[bytes], boundary: bytes) -> Iterator[bytes]:
    opening, closing = b"--" + boundary, b"\r\n--" + boundary
    buffer = bytearray()
    for chunk in chunks:  # the part's headers
        buffer += chunk
        start = buffer.find(opening)
        end = buffer.find(b"\r\n\r\n", start) if start >= 0 else -1
        if end >= 0:
            del buffer[: end + 4]
            break
        if len(buffer) > _MAX_PART_HEADERS:
            raise TransientError("WADO-RS answer without part headers")
    else:
        raise TransientError("WADO-RS answer ended before its first part")
    keep = len(closing) - 1
    while True:
        found = buffer.find(closing)
        if found >= 0:
            yield bytes(buffer[:found])
            return
        if len(buffer) > keep:
            yield bytes(buffer[:-keep])
            del buffer[:-keep]
        following = next(chunks, None)
        if following is None:
            raise TransientError("WADO-RS answer cut off inside an instance")
        buffer += following
