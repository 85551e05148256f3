"""The result-writer registry: every record task's kind of result has a writer, and an
unknown kind is one line naming those there are."""

from __future__ import annotations

import pytest

from datasets.records.tasks import TASKS
from training.results.result_writers import RESULT_WRITERS, open_result_writer


def test_every_task_s_kind_of_result_has_a_writer():
    kinds = {task.result_kind for task in TASKS.values()}
    assert kinds == {"sr", "seg"}
    assert kinds <= set(RESULT_WRITERS)


def test_an_unknown_kind_is_one_line_naming_the_known():
    with pytest.raises(ValueError, match=r"no result writer for 'pmap': known are seg, sr"):
        open_result_writer("pmap", None)  # type: ignore[arg-type]
