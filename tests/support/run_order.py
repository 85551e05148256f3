"""The order test modules start in under `pytest -n 3 --dist loadfile` (make test).

Each worker takes a whole module at a time, in collection order, so a long module
collected last runs alone at the end while the other workers idle. Starting the longest
modules first and the short ones last keeps every worker busy to the end. xdist would
otherwise reorder the modules by their number of tests (so a module of many quick
parametrized tests went first and the 50 s guide test last): make test passes
--no-loadscope-reorder to keep this order.
"""

from __future__ import annotations

LONGEST_FIRST = (  # module totals under `make test`, 2026-12-04, a 2-core AMD EPYC (AVX512)
    "tests/training/loop/test_tf_slim_checkpoints.py",  # 175 s
    "tests/training/test_multilabel_scripts.py",  # 122 s
    "tests/training/loop/test_best_checkpoint.py",  # 119 s
    "tests/node/test_inference_node.py",  # 100 s
    "tests/training/loop/test_multi_worker.py",  # 96 s
    "tests/training/test_scripts.py",  # 82 s (trains the shared body-part classifier)
    "tests/training/results/test_dicom_results.py",  # 73 s
    "tests/dicom/network/test_pull.py",  # 67 s
    "tests/dicom/ingestion/test_deidentified_export.py",  # 60 s
    "tests/test_your_data.py",  # 61 s
    "tests/training/evaluation/test_subgroup_report.py",  # 55 s
    "tests/dicom/network/test_receive.py",  # 47 s
    "tests/nets/test_nets_factory.py",  # 46 s
    "tests/training/experiments/test_cross_validation.py",  # 43 s
    "tests/training/loop/test_multilabel_training.py",  # 43 s
    "tests/dicom/ingestion/test_hostile_input.py",  # 42 s
    "tests/dicom/ingestion/test_ingest.py",  # 36 s
    "tests/dicom/ingestion/test_pixel_store.py",  # 34 s
    "tests/datasets/records/test_beam_conversion.py",  # 32 s
    "tests/training/loop/test_train_step.py",  # 32 s
    "tests/training/loop/test_toy_task.py",  # 31 s
    "tests/dicom/ingestion/test_beam_ingest.py",  # 28 s
    "tests/training/test_one_input_path.py",  # 27 s
    "tests/nets/test_slim_names.py",  # 27 s
    "tests/dicom/labels/test_import_labels.py",  # 24 s
    "tests/datasets/input_pipeline/test_pipeline.py",  # 20 s
    "tests/datasets/synthetic_volumes/test_commands.py",  # 15 s
    "tests/training/loop/test_moving_averages_and_watch.py",  # 14 s
    "tests/training/test_segmentation_scripts.py",  # 14 s
)


def start_rank(module_path: str, slow: bool) -> tuple[int, int]:
    """A sort key: the listed modules in their order, then other slow ones, then the rest."""
    if module_path in LONGEST_FIRST:
        return 0, LONGEST_FIRST.index(module_path)
    return (1, 0) if slow else (2, 0)
