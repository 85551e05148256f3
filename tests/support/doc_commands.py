"""The command lines of the README and docs/, and the flags each command defines, read
statically (no command is imported: TensorFlow's import would cost seconds each)."""

from __future__ import annotations

import ast
import os
import re
import shlex
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ABSL_FLAGS = {"help", "helpfull", "helpshort", "helpxml", "flagfile", "undefok", "verbosity",
              "v", "logtostderr", "alsologtostderr", "log_dir", "stderrthreshold",
              "showprefixforinfo", "only_check_args", "pdb", "pdb_post_mortem",
              "run_with_pdb", "run_with_profiling", "profile_file",
              "use_cprofile_for_profiling", "logger_levels"}
_COMMAND = re.compile(r"(?:^|[\s`(])(?:cd +(?P<cd>[\w./-]+) *&& *)?python3? +"
                      r"(-m +(?P<module>[\w.]+)|(?P<script>[\w./-]+\.py))(?P<rest>[^`]*)")
_MAKE = re.compile(r"(?:^\s*|`)make +(?P<target>[\w-]+\b(?!-))")


@dataclass(frozen=True)
class DocCommand:
    where: str
    """file:line of the command in the docs."""
    module: str
    """The command's source file, relative to the repository root."""
    flags: tuple[str, ...]


def doc_files() -> list[str]:
    found = [os.path.join(ROOT, "README.md")]
    for base, _, names in os.walk(os.path.join(ROOT, "docs")):
        found += [os.path.join(base, n) for n in sorted(names) if n.endswith(".md")]
    return found


def _lines(path: str) -> list[tuple[int, str]]:
    """Each line, with a continued line (ending in a backslash) joined to the next."""
    out, pending, start = [], "", 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not pending:
                start = number
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            out.append((start, pending + line))
            pending = ""
    return out


def _flags(rest: str) -> tuple[str, ...]:
    text = rest.split("  #")[0].split(" # ")[0]
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    names = []
    for token in tokens:
        token = token.strip("[]")
        if token in ("|", "&&", ";", ">", "2>&1") or token.startswith((">", "|")):
            break  # the next command of a pipeline
        if token.startswith("-") and token.lstrip("-") and not token[1:2].isdigit():
            names.append(token.lstrip("-").split("=", 1)[0])
    return tuple(names)


def _module_file(command: re.Match) -> str | None:
    if command.group("script"):
        script = command.group("script").lstrip("./")
        return os.path.normpath(os.path.join(command.group("cd") or "", script))
    module = command.group("module")
    relative = module.replace(".", "/")
    for candidate in (relative + ".py", relative + "/__main__.py"):
        if os.path.exists(os.path.join(ROOT, candidate)):
            return candidate
    top = module.split(".")[0]
    if not os.path.isdir(os.path.join(ROOT, top)):
        return None  # someone else's module (pytest, pip)
    return relative + ".py"  # ours by its package, but missing: the test reports it


def doc_commands() -> list[DocCommand]:
    found = []
    for path in doc_files():
        for number, line in _lines(path):
            for command in _COMMAND.finditer(line):
                module = _module_file(command)
                if module is None:
                    continue
                where = f"{os.path.relpath(path, ROOT)}:{number}"
                found.append(DocCommand(where, module, _flags(command.group("rest"))))
    return found


def doc_make_targets() -> list[tuple[str, str]]:
    """(where, target) of every `make TARGET` in the docs."""
    found = []
    for path in doc_files():
        for number, line in _lines(path):
            for match in _MAKE.finditer(line):
                found.append((f"{os.path.relpath(path, ROOT)}:{number}", match.group("target")))
    return found


def make_targets() -> set[str]:
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        return {m.group(1) for m in re.finditer(r"^([\w-]+):", handle.read(), re.MULTILINE)}


def _repo_file(module: str) -> str | None:
    relative = module.replace(".", "/")
    for candidate in (relative + ".py", relative + "/__init__.py"):
        if os.path.exists(os.path.join(ROOT, candidate)):
            return candidate
    return None


def _define_name(node: ast.Call) -> list[str]:
    """The flag names a `flags.DEFINE_*("name", ..., short_name="n")` call defines."""
    function = node.func
    called = function.attr if isinstance(function, ast.Attribute) else (
        function.id if isinstance(function, ast.Name) else "")
    if not called.startswith("DEFINE"):
        return []
    # flags.DEFINE(parser, "name", ...) takes the name second
    named = [a for a in node.args[:2] if isinstance(a, ast.Constant) and isinstance(a.value,
                                                                                   str)]
    if not named:
        return []
    names = [named[0].value]
    names += [str(k.value.value) for k in node.keywords
              if k.arg == "short_name" and isinstance(k.value, ast.Constant)]
    return names


def _option_flags(definition: ast.ClassDef) -> list[str]:
    """The flags `define_option_flags(Class)` makes: one per field set by `option(...)`,
    named as the field, or as its `flag=`."""
    names = []
    for node in definition.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(node.value, ast.Call)):
            continue
        called = node.value.func
        if not (isinstance(called, ast.Name) and called.id == "option"):
            continue
        renamed = [k.value.value for k in node.value.keywords
                   if k.arg == "flag" and isinstance(k.value, ast.Constant)]
        names.append(str(renamed[0]) if renamed else node.target.id)
    return names


class _Module:
    """One module of this repository: its top-level statements, functions and imports."""

    def __init__(self, relative: str) -> None:
        with open(os.path.join(ROOT, relative), encoding="utf-8") as handle:
            self.tree = ast.parse(handle.read(), relative)
        self.functions = {n.name: n for n in self.tree.body if isinstance(n, ast.FunctionDef)}
        self.classes = {n.name: n for n in self.tree.body if isinstance(n, ast.ClassDef)}
        self.imported: dict[str, str] = {}  # a name -> the repository file it comes from
        self.modules: list[str] = []  # repository modules imported at the top level
        for node in _top_level(self.tree.body):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                source = _repo_file(node.module)
                if source:
                    self.modules.append(source)
                for alias in node.names:
                    submodule = _repo_file(f"{node.module}.{alias.name}")
                    if submodule:
                        self.modules.append(submodule)
                    elif source:
                        self.imported[alias.asname or alias.name] = source
            elif isinstance(node, ast.Import):
                self.modules += [f for f in (_repo_file(a.name) for a in node.names) if f]


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements that run at import, into if/try/with blocks, not into functions."""
    out = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                out += _top_level([i for i in inner if isinstance(i, ast.stmt)])
        for handler in getattr(node, "handlers", None) or []:
            out += _top_level(handler.body)
    return out


def defined_flags(module_file: str) -> set[str]:
    """The flags a command defines before absl parses its command line: DEFINE_* calls at
    the top level of its file and of the repository modules it imports there, and in
    the functions those top levels call (define_model_flags() and the like)."""
    names: set[str] = set()
    modules: dict[str, _Module] = {}
    done: set[tuple[str, str]] = set()

    def module(relative: str) -> _Module:
        if relative not in modules:
            modules[relative] = _Module(relative)
        return modules[relative]

    def calls_in(relative: str, nodes: list[ast.AST]) -> None:
        here = module(relative)
        for statement in nodes:
            for node in ast.walk(statement):
                if not isinstance(node, ast.Call):
                    continue
                names.update(_define_name(node))
                if isinstance(node.func, ast.Name) and node.func.id == "define_option_flags":
                    names.update(option_flags(relative, node))
                if isinstance(node.func, ast.Name):
                    called = node.func.id
                    if called in here.functions:
                        function(relative, called)
                    elif called in here.imported:
                        function(here.imported[called], called)

    def option_flags(relative: str, call: ast.Call) -> list[str]:
        given = call.args[0] if call.args else None
        if not isinstance(given, ast.Name):
            return []
        here = module(relative)
        source = relative if given.id in here.classes else here.imported.get(given.id)
        definition = module(source).classes.get(given.id) if source else None
        return _option_flags(definition) if definition is not None else []

    def function(relative: str, name: str) -> None:
        if (relative, name) in done:
            return
        done.add((relative, name))
        definition = module(relative).functions.get(name)
        if definition is not None:
            calls_in(relative, definition.body)

    def imported(relative: str) -> None:
        if (relative, "") in done:
            return
        done.add((relative, ""))
        calls_in(relative, _top_level(module(relative).tree.body))
        for other in module(relative).modules:
            imported(other)

    imported(module_file)
    return names
