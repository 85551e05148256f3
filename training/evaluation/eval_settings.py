"""What an evaluation is asked to do: each option with its default and help, spelled
once (console.options); eval_image_classifier's flags are made from these fields."""

from __future__ import annotations

from dataclasses import dataclass

from console.options import option
from nets.conv_blocks import PREPROCESSING_NAMES
from training.classification.multilabel_metrics import THRESHOLD_RULES
from training.evaluation.failures import DEFAULT_PER_CLASS
from training.evaluation.statistics import DEFAULT_REPLICATES
from training.evaluation.subgroups import DEFAULT_MIN_SUBGROUP_SIZE


@dataclass
class EvalSettings:
    """One evaluation of a checkpoint on one split."""

    checkpoint_path: str
    dataset_dir: str
    eval_dir: str
    dataset_name: str | None = option(
        None, "Checked against --dataset_dir's spec when given.")
    dataset_split_name: str = option("test", "The split to evaluate.")
    model_name: str | None = None
    batch_size: int = option(100, "Examples per batch.", lower_bound=1)
    max_num_batches: int | None = option(None, "Evaluate at most this many batches.")
    eval_image_size: int | None = option(None, "Input size; default: the training size.")
    channels: int | None = None
    use_moving_averages: bool = option(
        True, "medcv checkpoints: evaluate the weights' moving averages when the checkpoint "
        "holds them.")
    moving_average_decay: float | None = option(
        None, "TF-Slim checkpoints: evaluate their ExponentialMovingAverage shadow variables, "
        "as TF-Slim's eval did when given this flag.")
    preprocessing_name: str | None = option(
        None, "TF-Slim's preprocessing (inception: central 87.5% crop, [-1, 1]; vgg); "
        "default: what the train_dir records, else TF-Slim's for the net.",
        choices=list(PREPROCESSING_NAMES))
    threshold_rule: str = option(
        "youden", "Multi-label: how each label's threshold is chosen on the validation split "
        "(youden: the largest sensitivity + specificity - 1; f1: the largest F1). Written to "
        "the train_dir as thresholds.json.", choices=THRESHOLD_RULES)
    bootstrap: int = option(
        DEFAULT_REPLICATES, "Replicates of the patient-level cluster bootstrap behind the "
        "95 % intervals in metrics.json (percentile and BCa; a patient's images are "
        "resampled together); 0: no intervals.", lower_bound=0)
    bootstrap_seed: int = option(
        0, "Seed of the bootstrap: the same seed gives the same intervals.")
    subgroups: tuple[str, ...] = option(
        (), "Catalog attributes the records carry (tf_convert_data --attributes; default "
        "set: Manufacturer, ManufacturerModelName, PatientSex, age_band, ViewPosition, site, "
        "study_year): every metric with its interval per value, and the largest gap between "
        "values, e.g. --subgroups=Manufacturer,PatientSex,age_band,ViewPosition,site.")
    min_subgroup_size: int = option(
        DEFAULT_MIN_SUBGROUP_SIZE, "Subgroups with fewer images are reported as too small, "
        "not computed.", lower_bound=1)
    compare_with: str | None = option(
        None, "Another model on the same split: its predictions.csv (from its eval), or a "
        "checkpoint (prefix or train_dir) evaluated here. Gives DeLong's paired test and a "
        "paired patient-level bootstrap of the AUROC difference, per class or label.")
    calibrate: bool = option(
        True, "Fit temperature scaling (single-label) or per-label Platt scaling "
        "(multi-label) on the validation split, save it beside the checkpoint as "
        "calibration.json (classify_image, the SavedModel and the SRs apply it) and report "
        "calibration before and after.")
    report: bool = option(
        True, "Write report.html (self-contained: intervals, calibration, subgroups, "
        "failures, data make-up) and model_card.md to --eval_dir.")
    failures_per_class: int = option(
        DEFAULT_PER_CLASS, "Most confident errors shown per class or label (thumbnails and "
        "their catalog attributes); 0: none.", lower_bound=0)
