"""The order test modules start in under `pytest -n 2 --dist loadfile` (make test).

Each worker takes a whole module at a time, in collection order, so a long module
collected last runs alone at the end while the other worker idles: measured, the
multi-label end-to-end module (about 2.5 minutes) did so. Starting the longest modules
first (durations from `make test --durations=30`) and the short ones last keeps both
workers busy to the end.
"""

from __future__ import annotations

LONGEST_FIRST = (  # `make test --durations=40`, 2026-12-04
    "tests/training/test_multilabel_scripts.py",
    "tests/training/loop/test_tf_slim_checkpoints.py",
    "tests/node/test_inference_node.py",
    "tests/training/loop/test_multi_worker.py",
    "tests/training/experiments/test_cross_validation.py",
    "tests/training/loop/test_best_checkpoint.py",
    "tests/training/test_scripts.py",
    "tests/training/loop/test_multilabel_training.py",
    "tests/test_your_data.py",
    "tests/training/evaluation/test_subgroup_report.py",
    "tests/training/loop/test_train_step.py",
    "tests/training/results/test_dicom_results.py",
    "tests/datasets/records/test_beam_conversion.py",
    "tests/training/test_one_input_path.py",
)


def start_rank(module_path: str, slow: bool) -> tuple[int, int]:
    """A sort key: the listed modules in their order, then other slow ones, then the rest."""
    if module_path in LONGEST_FIRST:
        return 0, LONGEST_FIRST.index(module_path)
    return (1, 0) if slow else (2, 0)
