"""The make-up of each data partition, from the dataset spec tf_convert_data wrote:
images, patients, studies, label prevalence, and the share of each catalog attribute's
values (sex, age band, manufacturer, ...) the records carry."""

from __future__ import annotations

from datasets.records.dataset_spec import DatasetSpec


def data_make_up(spec: DatasetSpec) -> dict:
    """metrics.json's `data_make_up`: per stored split, its counts and prevalences."""
    out: dict = {}
    for name, split in spec.splits.items():
        images = split.num_examples
        if spec.kind.multi_label:
            prevalence = {label: (counts.get("positive", 0) / max(
                1, counts.get("positive", 0) + counts.get("negative", 0)))
                for label, counts in split.label_counts.items()}
        else:
            prevalence = {label: count / max(1, images)
                          for label, count in split.class_counts.items()}
        out[name] = {"images": images, "patients": split.patients or None,
                     "studies": split.studies or None, "prevalence": prevalence,
                     "attributes": {attribute: dict(sorted(counts.items()))
                                    for attribute, counts in split.attribute_counts.items()}}
    return out
