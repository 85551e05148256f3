"""The order test modules start in under `pytest -n 3 --dist loadfile` (make test).

Each worker takes a whole module at a time, in collection order, so a long module
collected last runs alone at the end while the other workers idle. Starting the longest
modules first and the short ones last keeps every worker busy to the end. xdist would
otherwise reorder the modules by their number of tests (so a module of many quick
parametrized tests went first and the 50 s guide test last): make test passes
--no-loadscope-reorder to keep this order.
"""

from __future__ import annotations

LONGEST_FIRST = (  # module totals of `pytest --durations=0`, 2026-12-04, a 2-core AMD EPYC
    "tests/training/loop/test_tf_slim_checkpoints.py",  # 137 s
    "tests/training/test_multilabel_scripts.py",  # 117 s
    "tests/training/test_scripts.py",  # 111 s (trains the shared body-part classifier)
    "tests/node/test_inference_node.py",  # 121 s before the shared models
    "tests/training/loop/test_multi_worker.py",  # 103 s
    "tests/training/results/test_dicom_results.py",  # 95 s before the shared models
    "tests/training/loop/test_best_checkpoint.py",  # 84 s
    "tests/training/experiments/test_cross_validation.py",  # 83 s
    "tests/dicom/network/test_pull.py",  # 65 s
    "tests/test_your_data.py",  # 65 s
    "tests/training/loop/test_multilabel_training.py",  # 63 s
    "tests/training/evaluation/test_subgroup_report.py",  # 60 s
    "tests/nets/test_nets_factory.py",  # 55 s
    "tests/dicom/ingestion/test_deidentified_export.py",  # 53 s
    "tests/dicom/ingestion/test_hostile_input.py",  # 52 s
    "tests/dicom/network/test_receive.py",  # 41 s
    "tests/training/loop/test_toy_task.py",  # 38 s
    "tests/dicom/ingestion/test_ingest.py",  # 34 s
    "tests/training/loop/test_train_step.py",  # 34 s
    "tests/nets/test_slim_names.py",  # 33 s
    "tests/dicom/ingestion/test_pixel_store.py",  # 32 s
    "tests/datasets/records/test_beam_conversion.py",  # 31 s
    "tests/dicom/ingestion/test_beam_ingest.py",  # 30 s
    "tests/training/test_one_input_path.py",  # 23 s
    "tests/datasets/input_pipeline/test_pipeline.py",  # 22 s
    "tests/dicom/labels/test_import_labels.py",  # 18 s
    "tests/training/loop/test_moving_averages_and_watch.py",  # 18 s
    "tests/datasets/synthetic_volumes/test_commands.py",  # 18 s
    "tests/training/test_segmentation_scripts.py",  # 17 s
)


def start_rank(module_path: str, slow: bool) -> tuple[int, int]:
    """A sort key: the listed modules in their order, then other slow ones, then the rest."""
    if module_path in LONGEST_FIRST:
        return 0, LONGEST_FIRST.index(module_path)
    return (1, 0) if slow else (2, 0)
