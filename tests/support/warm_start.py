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

import contextlib
import json
import os
import select
import shutil
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
import atexit, json, os, runpy, sys, tempfile, traceback
before = dict(os.environ)
import console.quiet_start  # before TensorFlow, as every command does
import tensorflow, keras  # noqa: F401  (the cost every child would pay again)
quiet = {k: v for k, v in os.environ.items() if before.get(k) != v}  # what quiet_start set

def child(request):
    code = 0
    try:
        os.setpgid(0, 0)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_TRUNC)  # a FIFO: its reader
        err = os.open(request["stderr"], os.O_WRONLY | os.O_TRUNC)
        os.dup2(out, 1); os.dup2(err, 2)
        devnull = os.open(os.devnull, os.O_RDONLY); os.dup2(devnull, 0)
        sys.stdin = open(os.devnull)
        os.environ.clear(); os.environ.update({**quiet, **request["env"]})
        tempfile.tempdir = None  # TMPDIR as the child's environment says
        os.chdir(request["cwd"])
        sys.argv = [request["module"], *request["args"]]
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
        try:
            atexit._run_exitfuncs()  # as the interpreter's exit does (autograph's temp files)
        finally:
            sys.stdout.flush(); sys.stderr.flush()
    os._exit(code)

for line in sys.stdin:
    request = json.loads(line)
    operation = request.get("op", "run")
    if operation == "wait":  # a spawned child: its exit status, or null while it runs
        pid, status = os.waitpid(request["pid"], 0 if request["block"] else os.WNOHANG)
        code = os.waitstatus_to_exitcode(status) if pid else None
        print(json.dumps({"status": code}), flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        child(request)
    print(json.dumps({"pid": pid}), flush=True)
    if operation == "run":
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

    def spawn(self, module: str, args: list[str], env: dict[str, str], cwd: str,
              stdout_lines: bool = False) -> WarmProcess:
        """`subprocess.Popen([python, -m, module, ...])` in effect, for a command a test
        signals, kills or reads line by line while it runs. `stdout_lines`: its stdout is
        a FIFO the test reads as it comes (`.stdout`); otherwise both go to files."""
        process = self._zygote()
        assert process.stdin is not None
        folder = tempfile.mkdtemp(prefix="warm-")
        out, err = os.path.join(folder, "stdout"), os.path.join(folder, "stderr")
        if stdout_lines:
            os.mkfifo(out)
        else:
            open(out, "wb").close()
        open(err, "wb").close()
        process.stdin.write(json.dumps({"op": "spawn", "module": module, "args": list(args),
                                        "env": env, "cwd": cwd, "stdout": out,
                                        "stderr": err}) + "\n")
        process.stdin.flush()
        started = self._answer(process, time.monotonic() + 60)
        assert started is not None
        return WarmProcess(self, started["pid"], folder, stdout_lines)

    def wait_for(self, pid: int, block: bool) -> int | None:
        process = self._zygote()
        assert process.stdin is not None
        process.stdin.write(json.dumps({"op": "wait", "pid": pid, "block": block}) + "\n")
        process.stdin.flush()
        answer = self._answer(process, time.monotonic() + 3600)
        assert answer is not None
        return answer["status"]

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class WarmProcess:
    """What a test needs of `subprocess.Popen` for a command the warm starter forked:
    pid, poll, wait, communicate, signals, and `.stdout` line by line when asked for."""

    def __init__(self, starter: WarmStarter, pid: int, folder: str, stdout_lines: bool) -> None:
        self._starter, self.pid, self._folder = starter, pid, folder
        self.returncode: int | None = None
        self.stdout = (open(os.path.join(folder, "stdout"), encoding="utf-8",  # noqa: SIM115
                            errors="replace") if stdout_lines else None)  # read as it runs

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._starter.wait_for(self.pid, block=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read what is left of stdout (draining the FIFO lets the command finish), wait
        for the end, and return (stdout, stderr)."""
        rest = self.stdout.read() if self.stdout is not None else None
        self.wait(timeout)
        if rest is None:
            with open(os.path.join(self._folder, "stdout"), encoding="utf-8",
                      errors="replace") as handle:
                rest = handle.read()
        with open(os.path.join(self._folder, "stderr"), encoding="utf-8",
                  errors="replace") as handle:
            err = handle.read()
        if self.stdout is not None:
            self.stdout.close()
        shutil.rmtree(self._folder, ignore_errors=True)
        return rest, err

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # ended, not yet reaped
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
