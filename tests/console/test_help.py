"""Every command's --help lists every flag it takes, not only those its own module
defines: flags from the shared helpers (model, training, PACS client, ingest, options
tables) belong to the command that asks for them."""

from __future__ import annotations

import pytest

from tests.support.forked_imports import each_imported

COMMANDS = ["train_image_classifier", "eval_image_classifier", "classify_image",
            "cross_validate", "export_model", "tf_convert_data", "dicom_main",
            "inference_node", "dicom.create_database", "dicom.pull", "dicom.receive",
            "dicom.fetch_image", "dicom.import_labels", "dicom.export_deidentified"]
# Flags that belong to the libraries, listed by --helpfull only.
THEIRS = ("absl", "tensorflow", "keras", "tensorboard", "apache_beam")


@pytest.mark.slow
def test_every_flag_a_command_takes_is_in_its_help():
    """Each command imported in a child forked after one TensorFlow import."""
    lines = each_imported(COMMANDS, f"""
        from absl import flags
        ours = {{f.name for owner, defined in flags.FLAGS.flags_by_module_dict().items()
                if owner.split('.')[0] not in {THEIRS!r} for f in defined}}
        shown = {{f.name for f in flags.FLAGS.get_key_flags_for_module(module.__name__)}}
        print(name, sorted(ours - shown), len(shown))
        """)
    missing = {line.split(" [")[0]: line.split(" [")[1].split("]")[0] for line in lines}
    assert list(missing) == COMMANDS
    assert {name: hidden for name, hidden in missing.items() if hidden} == {}
    counts = {line.split()[0]: int(line.split()[-1]) for line in lines}
    assert counts["train_image_classifier"] > 50 and counts["dicom.pull"] > 30
