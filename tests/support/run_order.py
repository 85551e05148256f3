"""The order test modules start in under `pytest -n 2 --dist loadfile` (make test).

Each worker takes a whole module at a time, in collection order, so a long module
collected last runs alone at the end while the other worker idles. Starting the longest
modules first and the short ones last keeps both workers busy to the end. xdist would
otherwise reorder the modules by their number of tests (so a module of many quick
parametrized tests went first and the 50 s guide test last): make test passes
--no-loadscope-reorder to keep this order.
"""

from __future__ import annotations

LONGEST_FIRST = (  # module totals of `pytest --durations=0`, 2026-12-04 (about 12 min in all)
    "tests/training/loop/test_tf_slim_checkpoints.py",  # 106 s
    "tests/training/test_scripts.py",  # 92 s
    "tests/node/test_inference_node.py",  # 89 s
    "tests/training/loop/test_multi_worker.py",  # 75 s
    "tests/training/experiments/test_cross_validation.py",  # 67 s
    "tests/training/loop/test_best_checkpoint.py",  # 66 s
    "tests/training/test_multilabel_scripts.py",  # 65 s
    "tests/training/results/test_dicom_results.py",  # 62 s
    "tests/training/loop/test_multilabel_training.py",  # 58 s
    "tests/test_your_data.py",  # 50 s
    "tests/dicom/network/test_pull.py",  # 46 s
    "tests/dicom/ingestion/test_hostile_input.py",  # 44 s
    "tests/nets/test_nets_factory.py",  # 43 s
    "tests/training/evaluation/test_subgroup_report.py",  # 40 s
    "tests/training/loop/test_train_step.py",  # 34 s
    "tests/dicom/ingestion/test_ingest.py",  # 31 s
    "tests/dicom/network/test_receive.py",  # 29 s
    "tests/dicom/ingestion/test_deidentified_export.py",  # 29 s
    "tests/nets/test_slim_names.py",  # 25 s
    "tests/training/loop/test_toy_task.py",  # 21 s
    "tests/dicom/ingestion/test_pixel_store.py",  # 21 s
    "tests/datasets/input_pipeline/test_pipeline.py",  # 19 s
    "tests/datasets/records/test_beam_conversion.py",  # 18 s
    "tests/training/test_segmentation_scripts.py",  # 18 s
    "tests/dicom/ingestion/test_beam_ingest.py",  # 18 s
    "tests/training/test_one_input_path.py",  # 17 s
    "tests/dicom/labels/test_import_labels.py",  # 17 s
)


def start_rank(module_path: str, slow: bool) -> tuple[int, int]:
    """A sort key: the listed modules in their order, then other slow ones, then the rest."""
    if module_path in LONGEST_FIRST:
        return 0, LONGEST_FIRST.index(module_path)
    return (1, 0) if slow else (2, 0)
