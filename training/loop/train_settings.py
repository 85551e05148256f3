"""What a training run is asked to do: each option with its default and help, spelled
once (console.options). train_image_classifier's and cross_validate's flags are made
from these fields and OptimizerSettings'; TF-Slim's names, meanings and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from console.options import option
from nets.conv_blocks import PREPROCESSING_NAMES
from nets.nets_factory import parse_model_options
from nets.scopes import parse_scopes
from training.loop.learning_rate import DECAY_TYPES
from training.loop.optimizers import OptimizerSettings
from training.loop.validation import LOWER_IS_BETTER
from training.segmentation.losses import LOSSES


@dataclass
class TrainSettings:
    """One training run. `train_dir`, `dataset_dir` and the model's name, checkpoint and
    channels are given by the command (their flags are shared or checked there)."""

    train_dir: str
    dataset_dir: str
    dataset_name: str | None = option(
        None, "Name recorded by tf_convert_data (e.g. dicom); checked against "
        "--dataset_dir's spec when given.")
    dataset_split_name: str = option("train", "The split to train on.")
    model_name: str = "inception_v3"
    preprocessing_name: str | None = option(
        None, "TF-Slim's preprocessing: 'inception' (pixels to [-1, 1]; eval frames the "
        "central 87.5%) or 'vgg' (0-255 minus the ImageNet RGB means; eval resizes the "
        "shorter side to size/0.875 and crops the centre). Default: TF-Slim's for the net "
        "(vgg for resnet_v1_*, inception otherwise). Recorded in the train_dir and applied "
        "by eval, classify and the SavedModel.", choices=list(PREPROCESSING_NAMES))
    batch_size: int = option(32, "Examples per step (over all clones).", lower_bound=1)
    train_image_size: int | None = option(None, "Input size; default: the net's own size.")
    channels: int | None = None
    max_number_of_steps: int | None = option(
        None, "Stop at this global step; unset trains until interrupted (Ctrl-C saves a "
        "checkpoint).")
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    learning_rate: float = option(0.01, "Initial learning rate.")
    learning_rate_decay_type: str = option(
        "exponential", "How the learning rate decays.", choices=list(DECAY_TYPES))
    learning_rate_decay_factor: float = option(0.94, "Exponential decay factor.")
    num_epochs_per_decay: float = option(
        2.0, "Epochs between decays; steps come from the spec's train split size.")
    end_learning_rate: float = option(0.0001, "Floor of the polynomial decay.")
    label_smoothing: float = option(0.0, "Label smoothing amount.")
    weight_decay: float = option(0.00004, "L2 weight decay on conv and dense kernels.")
    moving_average_decay: float | None = option(
        None, "Keep exponential moving averages of the weights with this decay (eval uses "
        "them); unset: none.")
    checkpoint_path: str | None = None
    checkpoint_exclude_scopes: list[str] = option(
        help="Comma-separated TF-Slim scopes not restored from --checkpoint_path, e.g. "
        "InceptionV4/Logits,InceptionV4/AuxLogits.", default_factory=list, parse=parse_scopes)
    trainable_scopes: list[str] = option(
        help="Comma-separated scopes to train; everything else is frozen (unset: train "
        "all).", default_factory=list, parse=parse_scopes)
    ignore_missing_vars: bool = option(
        False, "Leave variables the checkpoint lacks at their initial values.")
    save_interval_secs: int = option(600, "Seconds between checkpoints (and at the end).")
    save_summaries_secs: int = option(600, "Seconds between TensorBoard summaries.")
    log_every_n_steps: int = option(10, "Steps between log lines.", lower_bound=1)
    num_clones: int = option(
        1, "Replicas: >1 uses MirroredStrategy over GPUs (or logical CPUs); TF_CONFIG with "
        "workers uses MultiWorkerMirrored.")
    class_weights: str | None = option(
        None, "'auto' weights classes by N/(K*n_c) from the train split, or give one weight "
        "per class as 'w0,w1,...'.")
    pos_weight: str | None = option(
        None, "Multi-label records: weigh each label's positive term. 'auto' uses "
        "negatives/positives of each label in the train split (rare findings weigh more; 1 "
        "for a label without positives there); or give one weight per label as "
        "'w0,w1,...' in labels.txt order. Unset: 1.")
    mixed_precision: bool = option(
        False, "float16 compute with dynamic loss scaling on GPU (bfloat16 on CPU).")
    augment: bool = option(True, "Flips, small rotations, brightness and contrast.")
    seed: int | None = option(
        None, "Seed of the initial weights, dropout, shuffle and augmentation: a run repeated "
        "with the same seed on the same machine starts from the same weights and sees the "
        "same batches. Unset: a fresh draw each run.")
    max_checkpoints_to_keep: int = option(
        5, "How many of the latest checkpoints the train_dir keeps (the best one, with "
        "--keep_best_on, is kept besides).", lower_bound=1, flag="keep_checkpoints")
    synthetic_data: bool = False
    """One random batch repeated (benchmarks of the step alone)."""
    segmentation_loss: str = option(
        "dice_ce", "Segmentation nets: soft Dice (mean over foreground classes), pixel "
        "cross-entropy, or their sum.", choices=list(LOSSES))
    model_options: dict = option(
        help="Builder options as key=value,...; e.g. for unet / unet_plus_plus "
        "'depth=3,base_filters=16,batch_norm=true,dropout=0.1,deep_supervision=true'.",
        default_factory=dict, parse=parse_model_options)
    loss_scale: float | None = None
    """Initial scale of dynamic loss scaling under float16 (Keras default when None)."""
    jit_compile: bool | None = option(
        None, "XLA-compile the train step's forward and backward pass. Unset: on where a "
        "GPU is visible, off on CPU; --nojit_compile turns it off.")
    steps_per_execution: int = option(
        1, "Steps run per compiled call (as Keras fit's steps_per_execution): fewer host "
        "round trips when steps are short; logs, summaries and saves then happen between "
        "calls.", lower_bound=1)
    keep_best_on: str | None = option(
        None, "Validate inside training (split validation, or validation_foldK when "
        "training on train_foldK) and keep the checkpoint that does best on this metric in "
        "TRAIN_DIR/best; eval, classify and export take it with --checkpoint=best.",
        choices=list(LOWER_IS_BETTER))
    early_stopping_patience: int | None = option(
        None, "Stop after this many validations without improvement of --keep_best_on "
        "(validation_loss when unset); implies validation inside training.", lower_bound=1)
    eval_every_n_steps: int | None = option(
        None, "Steps between validations inside training; unset: once per epoch of the "
        "training split.", lower_bound=1)
    eval_batch_size: int = 100
