"""train_image_classifier's absl flags: TF-Slim's names, meanings and defaults."""

from __future__ import annotations

from absl import flags

from nets.conv_blocks import PREPROCESSING_NAMES
from nets.nets_factory import parse_model_options
from nets.scopes import parse_scopes
from training.loop.learning_rate import DECAY_TYPES
from training.loop.optimizers import OPTIMIZERS, OptimizerSettings
from training.loop.trainer import TrainSettings
from training.loop.validation import LOWER_IS_BETTER
from training.segmentation.losses import LOSSES
from training.serving.model_flags import define_model_flags

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()

_DATA = "--dataset_dir is required: the tf_convert_data output directory (dataset_spec.json)"


def define_training_flags() -> None:
    d = flags
    d.DEFINE_string("train_dir", "/tmp/tfmodel/",
                    "Where checkpoints (model.ckpt-N) and TensorBoard summaries are written; "
                    "re-running with the same directory resumes.")
    d.DEFINE_string("dataset_name", None, "Name recorded by tf_convert_data (e.g. dicom); "
                    "checked against --dataset_dir's spec when given.")
    d.DEFINE_string("dataset_dir", None, "tf_convert_data output directory (required).")
    d.DEFINE_string("dataset_split_name", "train", "The split to train on.")
    d.DEFINE_enum("preprocessing_name", None, list(PREPROCESSING_NAMES),
                  "TF-Slim's preprocessing: 'inception' (pixels to [-1, 1]; eval frames the "
                  "central 87.5%) or 'vgg' (0-255 minus the ImageNet RGB means; eval resizes "
                  "the shorter side to size/0.875 and crops the centre). Default: TF-Slim's "
                  "for the net (vgg for resnet_v1_*, inception otherwise). Recorded in the "
                  "train_dir and applied by eval, classify and the SavedModel.")
    d.DEFINE_integer("labels_offset", 0,
                     "TF-Slim's offset of the first real class in the dataset's labels. Data "
                     "sets converted here have no background class, so only 0 applies; to "
                     "fine-tune a 1001-class zoo net, exclude its logits instead.",
                     lower_bound=0)
    d.DEFINE_integer("batch_size", 32, "Examples per step (over all clones).", lower_bound=1)
    d.DEFINE_integer("train_image_size", None, "Input size; default: the net's own size.")
    d.DEFINE_integer("max_number_of_steps", None,
                     "Stop at this global step; unset trains until interrupted (Ctrl-C "
                     "saves a checkpoint).")
    d.DEFINE_enum("optimizer", "rmsprop", list(OPTIMIZERS), "The optimizer.")
    d.DEFINE_float("adadelta_rho", 0.95, "Decay rate for adadelta.")
    d.DEFINE_float("adagrad_initial_accumulator_value", 0.1, "Starting value for adagrad.")
    d.DEFINE_float("adam_beta1", 0.9, "Exponential decay of the 1st moment estimates (adam).")
    d.DEFINE_float("adam_beta2", 0.999, "Exponential decay of the 2nd moment estimates (adam).")
    d.DEFINE_float("opt_epsilon", 1.0, "Epsilon of adadelta, adagrad, adam and rmsprop.")
    d.DEFINE_float("ftrl_learning_rate_power", -0.5, "Learning rate power (ftrl).")
    d.DEFINE_float("ftrl_initial_accumulator_value", 0.1, "Starting accumulator (ftrl).")
    d.DEFINE_float("ftrl_l1", 0.0, "L1 regularization strength (ftrl).")
    d.DEFINE_float("ftrl_l2", 0.0, "L2 regularization strength (ftrl).")
    d.DEFINE_float("momentum", 0.9, "Momentum of the momentum optimizer.")
    d.DEFINE_float("rmsprop_momentum", 0.9, "Momentum (rmsprop).")
    d.DEFINE_float("rmsprop_decay", 0.9, "Decay term (rmsprop).")
    d.DEFINE_float("learning_rate", 0.01, "Initial learning rate.")
    d.DEFINE_enum("learning_rate_decay_type", "exponential", list(DECAY_TYPES),
                  "How the learning rate decays.")
    d.DEFINE_float("learning_rate_decay_factor", 0.94, "Exponential decay factor.")
    d.DEFINE_float("num_epochs_per_decay", 2.0,
                   "Epochs between decays; steps come from the spec's train split size.")
    d.DEFINE_float("end_learning_rate", 0.0001, "Floor of the polynomial decay.")
    d.DEFINE_float("label_smoothing", 0.0, "Label smoothing amount.")
    d.DEFINE_float("weight_decay", 0.00004, "L2 weight decay on conv and dense kernels.")
    d.DEFINE_float("moving_average_decay", None,
                   "Keep exponential moving averages of the weights with this decay "
                   "(eval uses them); unset: none.")
    define_model_flags(
        "Checkpoint to fine-tune from: a prefix or directory, or TF-Slim's (a zoo .ckpt file "
        "or folder, a TF-Slim train_dir); ignored, with a warning, when --train_dir already "
        "holds a checkpoint.", model_help="The net to train.", model_default="inception_v3",
        channels_default="the fine-tuned checkpoint's, else the dataset's (3 when mixed)")
    d.DEFINE_string("checkpoint_exclude_scopes", None,
                    "Comma-separated TF-Slim scopes not restored from --checkpoint_path, "
                    "e.g. InceptionV4/Logits,InceptionV4/AuxLogits.")
    d.DEFINE_string("trainable_scopes", None,
                    "Comma-separated scopes to train; everything else is frozen "
                    "(unset: train all).")
    d.DEFINE_boolean("ignore_missing_vars", False,
                     "Leave variables the checkpoint lacks at their initial values.")
    d.DEFINE_integer("save_interval_secs", 600, "Seconds between checkpoints (and at the end).")
    d.DEFINE_integer("save_summaries_secs", 600, "Seconds between TensorBoard summaries.")
    d.DEFINE_integer("log_every_n_steps", 10, "Steps between log lines.", lower_bound=1)
    d.DEFINE_integer("keep_checkpoints", 5, "How many of the latest checkpoints the "
                     "train_dir keeps (the best one, with --keep_best_on, is kept besides).",
                     lower_bound=1)
    d.DEFINE_enum("keep_best_on", None, list(LOWER_IS_BETTER),
                  "Validate inside training (split validation, or validation_foldK when "
                  "training on train_foldK) and keep the checkpoint that does best on this "
                  "metric in TRAIN_DIR/best; eval, classify and export take it with "
                  "--checkpoint=best.")
    d.DEFINE_integer("early_stopping_patience", None,
                     "Stop after this many validations without improvement of --keep_best_on "
                     "(validation_loss when unset); implies validation inside training.",
                     lower_bound=1)
    d.DEFINE_integer("eval_every_n_steps", None,
                     "Steps between validations inside training; unset: once per epoch of "
                     "the training split.", lower_bound=1)
    d.DEFINE_integer("num_clones", 1, "Replicas: >1 uses MirroredStrategy over GPUs "
                     "(or logical CPUs); TF_CONFIG with workers uses MultiWorkerMirrored.")
    d.DEFINE_string("class_weights", None, "'auto' weights classes by N/(K*n_c) from the "
                    "train split, or give one weight per class as 'w0,w1,...'.")
    d.DEFINE_string("pos_weight", None, "Multi-label records: weigh each label's positive "
                    "term. 'auto' uses negatives/positives of each label in the train split "
                    "(rare findings weigh more; 1 for a label without positives there); or "
                    "give one weight per label as 'w0,w1,...' in labels.txt order. Unset: 1.")
    d.DEFINE_boolean("mixed_precision", False,
                     "float16 compute with dynamic loss scaling on GPU (bfloat16 on CPU).")
    d.DEFINE_boolean("jit_compile", None,
                     "XLA-compile the train step's forward and backward pass. Unset: on "
                     "where a GPU is visible, off on CPU; --nojit_compile turns it off.")
    d.DEFINE_integer("steps_per_execution", 1,
                     "Steps run per compiled call (as Keras fit's steps_per_execution): "
                     "fewer host round trips when steps are short; logs, summaries and "
                     "saves then happen between calls.", lower_bound=1)
    d.DEFINE_boolean("augment", True, "Flips, small rotations, brightness and contrast.")
    d.DEFINE_integer("seed", None, "Seed of the shuffle and augmentation.")
    d.DEFINE_string("export_dir", None, "Also write a SavedModel here at the end.")
    d.DEFINE_enum("segmentation_loss", "dice_ce", list(LOSSES),
                  "Segmentation nets: soft Dice (mean over foreground classes), pixel "
                  "cross-entropy, or their sum.")
    d.DEFINE_string("model_options", None,
                    "Builder options as key=value,...; e.g. for unet / unet_plus_plus "
                    "'depth=3,base_filters=16,batch_norm=true,dropout=0.1,"
                    "deep_supervision=true'.")


def settings_from_flags(values) -> TrainSettings:
    if not values.dataset_dir:
        raise ValueError(_DATA)
    if values.labels_offset:
        raise ValueError(f"--labels_offset={values.labels_offset}: data sets converted by "
                         "tf_convert_data have no background class to skip; fine-tune a "
                         "1001-class zoo checkpoint with --checkpoint_exclude_scopes on its "
                         "logits instead")
    return TrainSettings(
        train_dir=values.train_dir,
        dataset_dir=values.dataset_dir,
        dataset_name=values.dataset_name,
        dataset_split_name=values.dataset_split_name,
        model_name=values.model_name,
        preprocessing_name=values.preprocessing_name,
        batch_size=values.batch_size,
        train_image_size=values.train_image_size,
        channels=values.channels or None,
        max_number_of_steps=values.max_number_of_steps,
        optimizer=OptimizerSettings(
            name=values.optimizer,
            adadelta_rho=values.adadelta_rho,
            adagrad_initial_accumulator_value=values.adagrad_initial_accumulator_value,
            adam_beta1=values.adam_beta1,
            adam_beta2=values.adam_beta2,
            opt_epsilon=values.opt_epsilon,
            ftrl_learning_rate_power=values.ftrl_learning_rate_power,
            ftrl_initial_accumulator_value=values.ftrl_initial_accumulator_value,
            ftrl_l1=values.ftrl_l1,
            ftrl_l2=values.ftrl_l2,
            momentum=values.momentum,
            rmsprop_momentum=values.rmsprop_momentum,
            rmsprop_decay=values.rmsprop_decay,
        ),
        learning_rate=values.learning_rate,
        learning_rate_decay_type=values.learning_rate_decay_type,
        learning_rate_decay_factor=values.learning_rate_decay_factor,
        num_epochs_per_decay=values.num_epochs_per_decay,
        end_learning_rate=values.end_learning_rate,
        label_smoothing=values.label_smoothing,
        weight_decay=values.weight_decay,
        moving_average_decay=values.moving_average_decay,
        checkpoint_path=values.checkpoint_path,
        checkpoint_exclude_scopes=parse_scopes(values.checkpoint_exclude_scopes),
        trainable_scopes=parse_scopes(values.trainable_scopes),
        ignore_missing_vars=values.ignore_missing_vars,
        save_interval_secs=values.save_interval_secs,
        save_summaries_secs=values.save_summaries_secs,
        log_every_n_steps=values.log_every_n_steps,
        num_clones=values.num_clones,
        class_weights=values.class_weights,
        pos_weight=values.pos_weight,
        mixed_precision=values.mixed_precision,
        jit_compile=values.jit_compile,
        steps_per_execution=values.steps_per_execution,
        augment=values.augment,
        seed=values.seed,
        segmentation_loss=values.segmentation_loss,
        model_options=parse_model_options(values.model_options),
        max_checkpoints_to_keep=values.keep_checkpoints,
        keep_best_on=values.keep_best_on,
        early_stopping_patience=values.early_stopping_patience,
        eval_every_n_steps=values.eval_every_n_steps,
    )
