"""run_on_beam on Beam's own local runner: every element once, results in element order,
and the runner pinned so nothing is downloaded."""

from __future__ import annotations

import pytest

from pipelines.beam_runner import pipeline_arguments, run_on_beam


def _square_and_tag(value: int) -> tuple[int, str]:
    return value * value, f"v{value}"


def test_results_come_back_in_element_order():
    elements = list(range(37))
    arguments = pipeline_arguments(None, 1)
    assert run_on_beam(_square_and_tag, elements, arguments) == [
        (v * v, f"v{v}") for v in elements]
    assert run_on_beam(_square_and_tag, [], arguments) == []


def test_the_local_runner_is_pinned_unless_the_user_names_one():
    assert pipeline_arguments(None, 1)[0] == "--runner=FnApiRunner"
    assert pipeline_arguments("", 3)[-2:] == ["--direct_num_workers=3",
                                              "--direct_running_mode=multi_processing"]
    chosen = pipeline_arguments("--runner=DataflowRunner --project=p", 3)
    assert chosen == ["--runner=DataflowRunner", "--project=p"]


def _fails(value: int) -> int:
    if value == 3:
        raise ValueError("element 3 is bad")
    return value


def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(Exception, match="element 3 is bad"):
        run_on_beam(_fails, list(range(5)), pipeline_arguments(None, 1))
