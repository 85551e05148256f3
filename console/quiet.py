"""A quiet start: TensorFlow's C++ start-up lines kept off the console.

TensorFlow prints "oneDNN custom operations are on", "Could not find cuda
drivers", "failed call to cuInit: UNKNOWN ERROR (303)" and more on stderr from
C++ while it loads, before any Python setting can reach it; on a machine
without a GPU they read like failures. `quiet_start()` (the first call of every
command) sets TF_CPP_MIN_LOG_LEVEL=3 for what TensorFlow logs later and
installs an import hook that loads TensorFlow, whenever a command first
imports it, with file descriptor 2 pointed at /dev/null.

It also asks TensorFlow for its oneDNN CPU kernels (console.cpu_kernels), and has the
command's log lines written plain, once absl has parsed the flags
(console.log_lines).

Set MEDCV_TF_LOGS=1 to see those lines (a TF_CPP_MIN_LOG_LEVEL you set is kept for
what TensorFlow logs after loading).
Python errors are untouched: a failing import still raises with its traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Iterator

from console.cpu_kernels import prefer_onednn

SHOW_LOGS = "MEDCV_TF_LOGS"
TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 (C and C++ writes included) at /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _plain_lines_after_flags() -> None:
    """Once absl has parsed the flags (app.run), log lines go plain (console.log_lines)."""
    from absl import app

    from console.log_lines import plain_log_lines

    app.call_after_init(plain_log_lines)


class _Loaded(importlib.abc.Loader):
    def __init__(self, module) -> None:
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module) -> None:
        return None


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Imports `tensorflow` once, silenced, and hands the import system the result."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        with stderr_silenced():
            module = importlib.import_module("tensorflow")
        return importlib.util.spec_from_loader(name, _Loaded(module))


def quiet_start() -> None:
    """Silence TensorFlow's and the libraries' start-up chatter before they load, unless
    $MEDCV_TF_LOGS is set; a log level the user set stands."""
    prefer_onednn()
    _plain_lines_after_flags()
    if os.environ.get(SHOW_LOGS):
        return
    os.environ.setdefault(TF_LOG_LEVEL, "3")  # a level the user chose stands
    if "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietTensorFlow) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
