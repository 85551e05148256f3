"""What both transports share: an instance found on a PACS, the one-line fatal error,
and retries with backoff for what is transient."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from console.options import option

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RemoteInstance:
    study_uid: str
    series_uid: str
    sop_uid: str
    attributes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


class PacsError(RuntimeError):
    """Fatal: one line naming the server and what to check."""


class RequestRefused(PacsError):
    """The server answered this one request with a refusal (an HTTP 4xx other than for
    credentials): the request failed, the server is fine."""


class TransientError(RuntimeError):
    """Worth another try: HTTP 5xx or 429, a reset connection, a DIMSE association lost."""


@dataclass(frozen=True)
class Timeouts:
    """How long a PACS client waits; the fields are also every PACS client's flags."""

    connect_s: float = option(3.0, "Seconds to wait for a PACS to accept a connection or "
                              "association.", lower_bound=0.1, flag="connect_timeout_s")
    read_s: float = option(60.0, "Seconds to wait for the next bytes or DIMSE message before "
                           "the attempt counts as failed (and is retried).", lower_bound=0.1,
                           flag="read_timeout_s")


DEFAULT_TIMEOUTS = Timeouts()


class RetryCounter:
    """Retries made, counted across threads, for the report."""

    def __init__(self, attempts: int = 4, first_wait_s: float = 0.25) -> None:
        self.attempts, self.first_wait_s = attempts, first_wait_s
        self.count = 0
        self._lock = threading.Lock()

    def run(self, action: Callable[[], T], what: str, gave_up: Callable[[Exception], str]) -> T:
        """`action()`, again after a TransientError with backoff; the last one becomes a
        PacsError with `gave_up(error)` as its line."""
        wait = self.first_wait_s
        for attempt in range(1, self.attempts + 1):
            try:
                return action()
            except TransientError as exc:
                if attempt == self.attempts:
                    raise PacsError(gave_up(exc)) from None
                with self._lock:
                    self.count += 1
                log.warning("%s: %s; retrying in %.2f s", what, exc, wait)
                time.sleep(wait)
                wait *= 2
        raise AssertionError("unreachable")
