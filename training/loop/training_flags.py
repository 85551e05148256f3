"""train_image_classifier's absl flags: TF-Slim's names, meanings and defaults.

Most come from the fields of TrainSettings and OptimizerSettings (console.options);
those defined here are the ones a command checks or uses itself."""

from __future__ import annotations

from absl import flags

from console.options import define_option_flags
from console.options import settings_from_flags as options_from_flags
from training.loop.optimizers import OptimizerSettings
from training.loop.train_settings import TrainSettings
from training.serving.model_flags import define_model_flags

# Flags defined here belong to the command that asks for them (its --help lists them).
flags.disclaim_key_flags()

_DATA = "--dataset_dir is required: the tf_convert_data output directory (dataset_spec.json)"
_GIVEN = ("train_dir", "dataset_dir", "model_name", "checkpoint_path", "channels")


def define_training_flags() -> None:
    """Every flag of a training run: the settings' options, the model's, and these."""
    d = flags
    d.DEFINE_string("train_dir", "/tmp/tfmodel/",
                    "Where checkpoints (model.ckpt-N) and TensorBoard summaries are written; "
                    "re-running with the same directory resumes.")
    d.DEFINE_string("dataset_dir", None, "tf_convert_data output directory (required).")
    d.DEFINE_integer("labels_offset", 0,
                     "TF-Slim's offset of the first real class in the dataset's labels. Data "
                     "sets converted here have no background class, so only 0 applies; to "
                     "fine-tune a 1001-class zoo net, exclude its logits instead.",
                     lower_bound=0)
    define_option_flags(TrainSettings)
    define_option_flags(OptimizerSettings)
    define_model_flags(
        "Checkpoint to fine-tune from: a prefix or directory, or TF-Slim's (a zoo .ckpt file "
        "or folder, a TF-Slim train_dir); ignored, with a warning, when --train_dir already "
        "holds a checkpoint.", model_help="The net to train.", model_default="inception_v3",
        channels_default="the fine-tuned checkpoint's, else the dataset's (3 when mixed)")
    d.DEFINE_string("export_dir", None, "Also write a SavedModel here at the end.")


def settings_from_flags(values: flags.FlagValues) -> TrainSettings:
    """The run the flags describe; a one-line ValueError for flags that cannot apply."""
    if not values.dataset_dir:
        raise ValueError(_DATA)
    if values.labels_offset:
        raise ValueError(f"--labels_offset={values.labels_offset}: data sets converted by "
                         "tf_convert_data have no background class to skip; fine-tune a "
                         "1001-class zoo checkpoint with --checkpoint_exclude_scopes on its "
                         "logits instead")
    return options_from_flags(
        TrainSettings, flag_values=values, train_dir=values.train_dir,
        dataset_dir=values.dataset_dir, model_name=values.model_name,
        checkpoint_path=values.checkpoint_path, channels=values.channels or None,
        optimizer=options_from_flags(OptimizerSettings, flag_values=values))
