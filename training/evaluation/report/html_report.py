"""report.html: one self-contained page a person reads, made from metrics.json.

Every figure is embedded (PNG as data: URIs, plots as inline SVG) and a Content
Security Policy forbids any fetch, so the file can be mailed to an ethics board or
opened on a machine without network. Every number on the page is in metrics.json.
"""

from __future__ import annotations

import base64
import math
from html import escape

from datasets.records.tasks import record_task
from training.evaluation.report.svg_figures import interval_svg, reliability_svg

REPORT_FILE = "report.html"
_STYLE = """
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;
font-size:13px;text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:13px}.figures{display:flex;flex-wrap:wrap;gap:16px}
.failure{display:inline-block;margin:6px;font-size:11px;width:150px;vertical-align:top}
.failure img{width:128px;image-rendering:pixelated;border:1px solid #999}
"""


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else escape(str(value))


def _interval(intervals: dict, name: str) -> str:
    found = intervals.get(name)
    if not found:
        return "n/a"
    low, high = found["percentile"]
    return f"{found['estimate']:.3f} [{low:.3f}, {high:.3f}]"


def _png(data: bytes, alt: str) -> str:
    return (f'<img alt="{escape(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(data).decode()}">')


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _headline(report: dict) -> str:
    intervals = report.get("intervals") or {}
    names = [n for n in ("accuracy", "macro_auroc", "macro_average_precision", "micro_auroc",
                         "micro_average_precision", "mean_dice", "mean_iou", "mean_hd95",
                         "pixel_accuracy") if n in intervals or report.get(n) is not None]
    rows = [[escape(n), _interval(intervals, n) if n in intervals else _number(report.get(n))]
            for n in names]
    boot = report.get("bootstrap")
    note = (f"95 % intervals: patient-level cluster bootstrap, {boot['replicates']} replicates "
            f"(seed {boot['seed']}, {boot['clusters']} clusters), percentile; BCa in "
            "metrics.json." if boot else "No intervals (--bootstrap 0).")
    return _table(["metric", "estimate [95 % interval]"], rows) + f'<p class="note">{note}</p>'


def _per_class(report: dict) -> str:
    if record_task(report.get("task")).dense:  # per-image means, no bootstrap yet
        from training.segmentation.metrics import METRICS

        rows = [[escape(name), *(_number(values.get(m)) for m in METRICS)]
                for name, values in (report.get("per_class") or {}).items()]
        return _table(["class", *METRICS], rows) + (
            f'<p class="note">Means over {escape(str(report.get("mean_over", "")))}; HD95 '
            "in pixels.</p>")
    intervals = report.get("intervals") or {}
    delong = report.get("delong") or {}
    names = report.get("class_names") or []
    rows = []
    for name in names[:50]:
        dl = delong.get(name)
        rows.append([escape(name), _interval(intervals, f"auroc:{name}"),
                     "n/a" if not dl else
                     f"{dl['auroc']:.3f} [{dl['interval'][0]:.3f}, {dl['interval'][1]:.3f}]",
                     _interval(intervals, f"average_precision:{name}"),
                     _interval(intervals, f"sensitivity:{name}"),
                     _interval(intervals, f"specificity:{name}")])
    return _table(["class / label", "AUROC [bootstrap]", "AUROC [DeLong]", "AP",
                   "sensitivity", "specificity"], rows)


def _calibration(report: dict) -> str:
    scaled = report.get("calibration_scaling")
    before = scaled["before"] if scaled else report.get("calibration") or {}
    after = scaled["after"] if scaled else {}
    rows: list[list[str]] = []
    figures: list[str] = []
    for name, values in before.items():
        if not isinstance(values, dict):
            continue
        then = after.get(name) or {}
        rows.append([escape(name), _number(values["ece"]), _number(then.get("ece")),
                     _number(values["brier"]), _number(then.get("brier"))])
        curves = {"model": values["reliability"]}
        if then:
            curves["scaled"] = then["reliability"]
        if len(figures) < 12:
            figures.append(f"<div><b>{escape(name)}</b><br>{reliability_svg(curves)}</div>")
    top = ""
    if "top_label_ece" in before:
        top = (f'<p class="note">Top-label ECE: {_number(before["top_label_ece"])} before, '
               f'{_number(after.get("top_label_ece"))} after scaling.</p>')
    described = (f"<p>Scaling: {escape(scaled['described'])}; saved with the model as "
                 "calibration.json, and applied by classify_image, the SavedModel and the "
                 "SRs.</p>" if scaled else
                 f'<p class="note">{escape(str(report.get("calibration_scaling_note", "")))}</p>')
    return (described + _table(["class / label", "ECE before", "ECE after", "Brier before",
                                 "Brier after"], rows) + top
            + f'<div class="figures">{"".join(figures)}</div>')


def _subgroups(report: dict) -> str:
    found = report.get("subgroups")
    if not found:
        return '<p class="note">No subgroups asked for (--subgroups).</p>'
    parts = []
    gap = found.get("largest_gap")
    if gap:
        interval = gap.get("interval")
        shown = f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
        parts.append(f"<p><b>Largest gap:</b> {escape(gap['metric'])} of "
                     f"{escape(gap['attribute'])} = {escape(gap['higher'])} minus "
                     f"{escape(gap['lower'])}: {gap['difference']:.3f}{shown}</p>")
    for attribute, entry in found["by_attribute"].items():
        rows, plotted = [], []
        for value, group in entry["groups"].items():
            if group["status"] != "ok":
                rows.append([escape(value), str(group["images"]), str(group["patients"]),
                             f"too small (under {found['min_subgroup_size']} images)", ""])
                continue
            intervals = group.get("intervals") or {}
            metric = "macro_auroc" if "macro_auroc" in group["estimates"] else "accuracy"
            rows.append([escape(value), str(group["images"]), str(group["patients"]),
                         _interval(intervals, metric) if intervals
                         else _number(group["estimates"].get(metric)),
                         _interval(intervals, "accuracy") if intervals
                         else _number(group["estimates"].get("accuracy"))])
            found_interval = intervals.get(metric)
            estimate = group["estimates"].get(metric)
            if estimate is not None and math.isfinite(estimate):
                plotted.append((value, estimate,
                                found_interval["percentile"][0] if found_interval else None,
                                found_interval["percentile"][1] if found_interval else None))
        parts.append(f"<h3>{escape(attribute)}</h3>" + _table(
            ["value", "images", "patients", "macro AUROC (or accuracy)", "accuracy"], rows))
        if plotted:
            parts.append(interval_svg(plotted))
    return "".join(parts)


def _comparison(report: dict) -> str:
    found = report.get("comparison")
    if not found:
        return ""
    rows = []
    for name, entry in found["per_class"].items():
        dl, boot = entry.get("delong"), entry.get("paired_bootstrap")
        rows.append([escape(name),
                     "n/a" if not dl else f"{dl['difference']:+.3f} [{dl['interval'][0]:+.3f}, "
                     f"{dl['interval'][1]:+.3f}]", "n/a" if not dl else f"{dl['p_value']:.3g}",
                     "n/a" if not boot else f"{boot['estimate']:+.3f} ["
                     f"{boot['percentile'][0]:+.3f}, {boot['percentile'][1]:+.3f}]"])
    return (f"<h2>Comparison with {escape(found['compared_with'])}</h2>"
            "<p class='note'>AUROC of this model minus the compared one, on the same "
            f"{found['images']} images.</p>"
            + _table(["class / label", "DeLong difference [95 %]", "p", "paired bootstrap"],
                     rows))


def _failures(report: dict, thumbnails: dict[str, bytes]) -> str:
    found = report.get("failures") or []
    if not found:
        return '<p class="note">No errors to show.</p>'
    cells = []
    for failure in found:
        picture = thumbnails.get(failure["id"])
        attributes = ", ".join(f"{escape(k)}: {escape(v)}"
                               for k, v in failure["attributes"].items() if v != "unknown")
        cells.append(
            f'<div class="failure">{_png(picture, failure["id"]) if picture else ""}<br>'
            f'<b>{escape(failure["class"])}</b>: truth {escape(failure["truth"])}, predicted '
            f'{escape(failure["predicted"])} ({failure["probability"]:.2f})<br>'
            f'{escape(failure["id"][:40])}<br>{attributes}</div>')
    return "".join(cells)


def _make_up(report: dict) -> str:
    found = report.get("data_make_up") or {}
    rows = []
    for split, entry in found.items():
        prevalence = ", ".join(f"{escape(k)} {v:.1%}" for k, v in list(
            entry["prevalence"].items())[:14])
        attributes = "<br>".join(
            f"{escape(name)}: " + ", ".join(f"{escape(v)} {c}" for v, c in counts.items())
            for name, counts in entry["attributes"].items())
        rows.append([escape(split), str(entry["images"]), _number(entry["patients"]),
                     _number(entry["studies"]), prevalence, attributes])
    return _table(["split", "images", "patients", "studies", "prevalence", "attributes"], rows)


def render_report(report: dict, figures: dict[str, bytes],
                  thumbnails: dict[str, bytes]) -> str:
    """The HTML text of the report of one evaluation (`report`: metrics.json's content)."""
    title = (f"{report.get('model_name')} step {report.get('step')} on split "
             f"{report.get('split')}")
    pictures = "".join(f"<div>{_png(data, name)}</div>" for name, data in figures.items())
    sections = [
        f"<h1>Evaluation: {escape(title)}</h1>",
        f'<p class="note">Checkpoint {escape(str(report.get("checkpoint")))}; '
        f'{report.get("num_examples", report.get("num_images"))} examples; task '
        f'{escape(str(report.get("task")))}.</p>',
        "<h2>Performance</h2>", _headline(report), _per_class(report),
        f'<div class="figures">{pictures}</div>',
        "<h2>Calibration</h2>", _calibration(report),
        "<h2>Subgroups</h2>", _subgroups(report),
        _comparison(report),
        "<h2>Most confident errors</h2>", _failures(report, thumbnails),
        "<h2>Data make-up</h2>", _make_up(report),
    ]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
            "img-src data:; style-src 'unsafe-inline'\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "".join(sections) + "</body></html>\n")
