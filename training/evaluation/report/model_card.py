"""model_card.md: the model, its training data, how that data was de-identified and how
it performed, in the shape of Mitchell et al.'s model cards. The intended-use fields are
the model owner's to fill in; the card says so rather than inventing them."""

from __future__ import annotations

from datasets.records.dataset_spec import DatasetSpec

MODEL_CARD_FILE = "model_card.md"
TO_FILL = "_to be completed by the model's owner_"


def _deidentification(spec: DatasetSpec) -> str:
    record = spec.deidentification
    if not record or record.get("deidentified") is None:
        return "Not recorded (the records were not made from a catalog that records it)."
    if not record["deidentified"]:
        return "None: the catalog was ingested without --deidentify."
    options = ", ".join(record.get("options") or []) or "none"
    return (f"{record.get('profile')} (DICOM PS3.15 edition {record.get('edition')}), "
            f"options: {options}; burned-in text: {record.get('burned_in')}; keyed "
            "pseudonyms for patients, accession numbers, UIDs, paths and sites.")


def render_model_card(report: dict, spec: DatasetSpec, run_config: dict) -> str:
    """The model card in Markdown: the model, its data, its figures with intervals, and the limits
    of what was measured."""
    intervals = report.get("intervals") or {}

    def shown(name: str) -> str:
        found = intervals.get(name)
        if found:
            low, high = found["percentile"]
            return f"{found['estimate']:.3f} (95 % CI {low:.3f}-{high:.3f})"
        value = report.get(name)
        return "n/a" if value is None else f"{value:.3f}"

    make_up = report.get("data_make_up") or {}
    splits = "\n".join(f"| {name} | {entry['images']} | {entry['patients'] or 'n/a'} | "
                       f"{entry['studies'] or 'n/a'} |" for name, entry in make_up.items())
    metrics = [n for n in ("accuracy", "macro_auroc", "macro_average_precision", "micro_auroc",
                           "mean_dice", "mean_iou", "mean_hd95")
               if n in intervals or report.get(n) is not None]
    scaling = report.get("calibration_scaling")
    gap = (report.get("subgroups") or {}).get("largest_gap")
    lines = [
        f"# Model card: {report.get('model_name')} on {spec.dataset_name}",
        "",
        "## Model details",
        f"- Net: {report.get('model_name')}, checkpoint `{report.get('checkpoint')}` "
        f"(step {report.get('step')})",
        f"- Task: {spec.task}; classes or labels: {', '.join(spec.class_names[:30])}",
        f"- Input: {run_config.get('image_size')} px, {run_config.get('channels')} channel(s), "
        f"preprocessing {run_config.get('preprocessing')}",
        f"- Calibration: {scaling['described'] if scaling else 'none fitted'}",
        "",
        "## Intended use",
        f"- Primary intended uses: {TO_FILL}",
        f"- Primary intended users: {TO_FILL}",
        f"- Out-of-scope uses: {TO_FILL}",
        "",
        "## Training data",
        f"- Records: `{spec.dataset_name}`, splits {', '.join(spec.splits)}, "
        f"grouped by patient: {'yes' if spec.grouped_by_patient else 'no'}",
        "",
        "| split | images | patients | studies |",
        "|---|---|---|---|",
        splits,
        "",
        "## De-identification",
        _deidentification(spec),
        "",
        "## Evaluation",
        f"Split `{report.get('split')}`, "
        f"{report.get('num_examples', report.get('num_images'))} examples"
        + ("; intervals from a patient-level cluster bootstrap." if intervals else "."),
        "",
        *[f"- {name}: {shown(name)}" for name in metrics],
        *([f"- Largest subgroup gap: {gap['metric']} of {gap['attribute']}, {gap['higher']} "
           f"minus {gap['lower']} = {gap['difference']:.3f}"] if gap else []),
        "",
        "The full figures, calibration and failure analysis are in report.html and "
        "metrics.json beside this card.",
        "",
        "## Ethical considerations and caveats",
        f"{TO_FILL}",
        "",
    ]
    return "\n".join(lines)
