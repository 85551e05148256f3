"""Every command line in the README and docs/ names a command that exists and flags that
command defines, and every `make` target they name is in the Makefile: the docs are
what users type."""

from __future__ import annotations

import os

from tests.support.doc_commands import (
    ABSL_FLAGS,
    ROOT,
    defined_flags,
    doc_commands,
    doc_make_targets,
    make_targets,
)


def test_every_documented_command_exists_with_the_flags_it_is_given():
    commands = doc_commands()
    assert len(commands) > 60  # the scan did see the docs
    problems = []
    cache: dict[str, set[str]] = {}
    for command in commands:
        if not os.path.exists(os.path.join(ROOT, command.module)):
            problems.append(f"{command.where}: no such command {command.module}")
            continue
        if command.module not in cache:
            cache[command.module] = defined_flags(command.module) | ABSL_FLAGS
        known = cache[command.module]
        for flag in command.flags:
            negated = flag.startswith("no") and flag[2:] in known
            if flag not in known and not negated:
                problems.append(f"{command.where}: {command.module} has no flag --{flag}")
    assert problems == []


def test_every_documented_make_target_is_in_the_makefile():
    targets = make_targets()
    missing = [f"{where}: make {target}" for where, target in doc_make_targets()
               if target not in targets]
    assert missing == []
