"""A warm start for the commands the tests run most: one process per test worker imports
TensorFlow and Keras once, then forks a child per command.

Each child runs the command as `python -m` would (`runpy` as `__main__`, its own argv,
environment and working directory, stdout and stderr to files), so flags, exit codes and
output are the command's own; only the 4 s of importing TensorFlow, paid by every fresh
interpreter on this machine, is paid once. The parent imports nothing else and runs no
TensorFlow op before forking, so the child starts from a clean TensorFlow. Start-up
itself (what the console shows before a command's first line) is tested with a fresh
interpreter: `run_module(..., fresh=True)`.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

# The commands that import TensorFlow (the top-level scripts), and the catalog commands the
# tests run most (a fresh interpreter costs them about a second each).
WARM_MODULES = frozenset({"train_image_classifier", "eval_image_classifier", "classify_image",
                          "export_model", "tf_convert_data", "dicom_main", "cross_validate",
                          "dicom.create_database", "dicom.fetch_image", "dicom.import_labels",
                          "dicom.verify_store", "dicom.export_deidentified", "dicom.scan_phi",
                          "inference_node"})

_ZYGOTE = r"""
import json, os, runpy, sys, traceback
before = dict(os.environ)
import console.quiet_start  # before TensorFlow, as every command does
import tensorflow, keras  # noqa: F401  (the cost every child would pay again)
quiet = {k: v for k, v in os.environ.items() if before.get(k) != v}  # what quiet_start set
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            out = os.open(request["stdout"], os.O_WRONLY | os.O_TRUNC)
            err = os.open(request["stderr"], os.O_WRONLY | os.O_TRUNC)
            os.dup2(out, 1); os.dup2(err, 2)
            devnull = os.open(os.devnull, os.O_RDONLY); os.dup2(devnull, 0)
            sys.stdin = open(os.devnull)
            os.environ.clear(); os.environ.update({**quiet, **request["env"]})
            os.chdir(request["cwd"])
            sys.argv = [request["module"], *request["args"]]
            code = 0
            try:
                runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
            except SystemExit as exit_:  # as the interpreter treats it at exit
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
                if code and not isinstance(exit_.code, int):
                    print(exit_.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class WarmStarter:
    """One zygote process; `run` is `subprocess.run([python, -m, module, ...])` in effect."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._process: subprocess.Popen[str] | None = None

    def _zygote(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _ZYGOTE], cwd=self.root, text=True,
                env={**os.environ, "PYTHONPATH": self.root}, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return self._process

    def _answer(self, process: subprocess.Popen[str], deadline: float) -> dict | None:
        assert process.stdout is not None
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, remaining))
        if not ready:
            return None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the warm-start process died")
        return json.loads(line)

    def run(self, module: str, args: list[str], env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess[str]:
        process = self._zygote()
        assert process.stdin is not None
        with tempfile.TemporaryDirectory() as folder:
            out, err = os.path.join(folder, "stdout"), os.path.join(folder, "stderr")
            for path in (out, err):
                open(path, "wb").close()
            process.stdin.write(json.dumps({"module": module, "args": list(args), "env": env,
                                            "cwd": self.root, "stdout": out,
                                            "stderr": err}) + "\n")
            process.stdin.flush()
            deadline = time.monotonic() + timeout
            started = self._answer(process, deadline + 30)
            assert started is not None
            finished = self._answer(process, deadline)
            if finished is None:
                os.killpg(started["pid"], signal.SIGKILL)
                self._answer(process, time.monotonic() + 30)
                raise subprocess.TimeoutExpired([module, *args], timeout)
            with open(out, encoding="utf-8", errors="replace") as handle:
                stdout = handle.read()
            with open(err, encoding="utf-8", errors="replace") as handle:
                stderr = handle.read()
        return subprocess.CompletedProcess([sys.executable, "-m", module, *args],
                                           finished["status"], stdout, stderr)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
