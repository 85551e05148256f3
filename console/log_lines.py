"""A command's log as plain lines: the message alone for information, `warning: ...` and
`error: ...` for the rest; no absl prefix (level letter, date, thread, file:line), which
reads as noise on a console and in a CI log.

TensorFlow's and Keras' own INFO lines ("Sharding callback duration", "Assets written
to") are off, and so are the few warnings TensorFlow gives on every SavedModel export
that ask nothing of the user. `--verbosity=1` (absl's flag on every command) brings
back absl's prefixed lines and everything TensorFlow logs.
"""

from __future__ import annotations

import logging

LIBRARY_LOGGERS = ("tensorflow", "keras", "h5py", "absl")
"""Loggers of libraries whose INFO lines are theirs, not the command's."""
_EXPORT_NOISE = (
    "contains input name(s)",  # signature_serialization: the SavedModel renames them
    "Sharding callback duration",
)


class PlainFormatter(logging.Formatter):
    """The message alone; `warning: ` or `error: ` before what is not information."""

    def format(self, record: logging.LogRecord) -> str:
        """The message alone, with `error:` or `warning:` in front where the level says so."""
        text = record.getMessage()
        if record.levelno >= logging.ERROR:
            text = f"error: {text}"
        elif record.levelno >= logging.WARNING:
            text = f"warning: {text}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class LibraryChatter(logging.Filter):
    """Drops a library's information lines and its export noise. A filter, not a level:
    TensorFlow's SavedModel code resets absl's logger level while it saves."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep warnings and errors, but not the export's known noise."""
        if record.levelno < logging.WARNING:
            return False
        message = str(record.msg)
        return not any(noise in message for noise in _EXPORT_NOISE)


def plain_log_lines() -> None:
    """Make the console plain, unless --verbosity asks for more (see the module's text).
    Runs once absl has parsed the flags and installed its handler."""
    from absl import flags
    from absl import logging as absl_logging

    verbosity = flags.FLAGS["verbosity"].value if "verbosity" in flags.FLAGS else 0
    if (verbosity or 0) >= 1:
        return
    absl_logging.get_absl_handler().setFormatter(PlainFormatter())
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.addFilter(LibraryChatter())
        for handler in library.handlers:  # TF's own "INFO:tensorflow:" handler, if made
            handler.setFormatter(PlainFormatter())
