"""Where a PACS is and how to log in: `dicomweb+http(s)://HOST:PORT/PATH` or
`dimse://AET@HOST:PORT`, with credentials from the environment or an option file.

Credentials never travel in the URL (it shows up in `ps`, logs and reports) and are
never printed: `describe()` names the server without them.
"""

from __future__ import annotations

import configparser
import os
import urllib.parse
from dataclasses import dataclass

DICOMWEB = "dicomweb"
DIMSE = "dimse"
USER_VARIABLE = "MEDCV_PACS_USER"
PASSWORD_VARIABLE = "MEDCV_PACS_PASSWORD"
TOKEN_VARIABLE = "MEDCV_PACS_TOKEN"
OPTION_FILE_VARIABLE = "MEDCV_PACS_OPTION_FILE"
_AE_TITLE_CHARACTERS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-. ")


class PacsAddressError(ValueError):
    """A PACS URL or credential setting that cannot be used."""


@dataclass(frozen=True)
class PacsAddress:
    kind: str
    host: str
    port: int
    base_url: str = ""
    """DICOMweb: the service root as plain http(s), e.g. http://pacs:8042/dicom-web."""
    ae_title: str = ""
    """DIMSE: the called AE title."""

    def describe(self) -> str:
        """The address as logs and errors name it: dimse://AE@host:port or dicomweb+URL."""
        if self.kind == DIMSE:
            return f"dimse://{self.ae_title}@{self.host}:{self.port}"
        return f"dicomweb+{self.base_url}"


@dataclass(frozen=True)
class Credentials:
    user: str | None = None
    password: str | None = None
    token: str | None = None

    def __repr__(self) -> str:  # never shows a secret, even in a traceback's locals
        return f"Credentials(user={self.user!r}, password=***, token=***)"


def check_ae_title(title: str, flag: str) -> str:
    """`title` when it is a valid AE title; raises PacsAddressError naming `flag` otherwise."""
    if not title or len(title) > 16 or not set(title) <= _AE_TITLE_CHARACTERS or (
            title.strip() != title):
        raise PacsAddressError(f"{flag} {title!r}: an AE title is 1-16 letters, digits, "
                               "'_', '-', '.' or inner spaces")
    return title


def parse_pacs_url(text: str, flag: str = "--source") -> PacsAddress:
    """`dicomweb+http(s)://HOST:PORT/PATH` or `dimse://AET@HOST:PORT`."""
    parsed = urllib.parse.urlsplit(text)
    scheme = parsed.scheme.lower()
    try:
        port = parsed.port
    except ValueError as exc:
        raise PacsAddressError(f"{flag} {text}: {exc}") from None
    if not parsed.hostname:
        raise PacsAddressError(f"{flag} {text}: no host; expected dicomweb+http(s)://HOST:PORT"
                               "/PATH or dimse://AET@HOST:PORT")
    if parsed.password is not None:
        raise PacsAddressError(f"{flag}: put no password in the URL (it shows in `ps` and logs);"
                               f" use ${PASSWORD_VARIABLE} or an option file")
    if scheme == "dimse":
        if not parsed.username:
            raise PacsAddressError(f"{flag} {text}: name the called AE title, dimse://AET@HOST:PORT")
        if port is None:
            raise PacsAddressError(f"{flag} {text}: give the DIMSE port, dimse://AET@HOST:PORT")
        title = check_ae_title(urllib.parse.unquote(parsed.username), flag)
        return PacsAddress(DIMSE, parsed.hostname, port, ae_title=title)
    if scheme in ("dicomweb+http", "dicomweb+https"):
        if parsed.username:
            raise PacsAddressError(f"{flag}: give the user in ${USER_VARIABLE} or an option file, "
                                   "not in the URL")
        http = scheme.split("+", 1)[1]
        port = port or (443 if http == "https" else 80)
        base = urllib.parse.urlunsplit((http, parsed.netloc, parsed.path.rstrip("/"), "", ""))
        return PacsAddress(DICOMWEB, parsed.hostname, port, base_url=base)
    raise PacsAddressError(f"{flag} {text}: unknown scheme {parsed.scheme!r}; expected "
                           "dicomweb+http, dicomweb+https or dimse")


def load_credentials(option_file: str | None = None) -> Credentials:
    """From `option_file` (or $MEDCV_PACS_OPTION_FILE): an INI file with a [pacs] section of
    user, password and/or token; each can be overridden by $MEDCV_PACS_USER,
    $MEDCV_PACS_PASSWORD, $MEDCV_PACS_TOKEN."""
    values: dict[str, str] = {}
    path = option_file or os.environ.get(OPTION_FILE_VARIABLE)
    if path:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, UnicodeDecodeError, configparser.Error) as exc:
            raise PacsAddressError(f"PACS option file {path}: {exc}") from None
        if not parser.has_section("pacs"):
            raise PacsAddressError(f"PACS option file {path}: no [pacs] section")
        values = {k: v for k, v in parser.items("pacs") if k in ("user", "password", "token")}
    for key, variable in (("user", USER_VARIABLE), ("password", PASSWORD_VARIABLE),
                          ("token", TOKEN_VARIABLE)):
        if os.environ.get(variable):
            values[key] = os.environ[variable]
    if values.get("password") and not values.get("user"):
        raise PacsAddressError(f"a PACS password is set but no user (${USER_VARIABLE})")
    return Credentials(values.get("user"), values.get("password"), values.get("token"))
