"""The two kinds of classify_image run: a classifier's predictions (text, then SRs) and a
segmentation model's masks (PNGs, then SEGs)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tqdm import tqdm

from batch_prediction.dicom_output import dicom_results, finish_dicom_results
from batch_prediction.inputs import CatalogInputs, request_inputs
from batch_prediction.request import ClassifyRequest
from datasets.records.tasks import record_task
from training.results.result_writers import ModelOutput
from training.serving.prediction import (
    HEADER,
    Predictor,
    format_multilabel,
    format_prediction,
    multilabel_header,
    predict,
)

if TYPE_CHECKING:
    from dicom.network.pacs_protocols import ResultStore


def run_request(request: ClassifyRequest, predictor: Predictor,
                open_store: Callable[[str], ResultStore]) -> int:
    """Classify (or segment) what `request` names with `predictor`; the exit status."""
    catalog = CatalogInputs(request) if request.db_url else None
    if record_task(predictor.config.task).dense:
        return _segment(request, predictor, catalog, open_store)
    return _classify(request, predictor, catalog, open_store)


@contextlib.contextmanager
def _output(path: str | None):
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as handle:
        yield handle


def _classify(request: ClassifyRequest, predictor: Predictor, catalog: CatalogInputs | None,
              open_store: Callable[[str], ResultStore]) -> int:
    names = predictor.config.class_names
    dicom_out = dicom_results(request, predictor)
    counts = {"ok": 0, "error": 0}
    multilabel = predictor.config.multilabel
    with _output(request.outfile) as out:
        thresholds = predictor.thresholds  # a multi-label model is loaded with its own
        header = multilabel_header(thresholds) if multilabel and thresholds else HEADER
        note = predictor.calibration_note()
        print(header + (f"; {note}" if note else ""), file=out)
        results = predict(predictor, request_inputs(request, predictor.config, catalog),
                          request.batch_size)
        for result in tqdm(results, unit="image", desc="classify", file=sys.stderr,
                           disable=not request.progress):
            findings = (predictor.findings(result.probabilities)
                        if multilabel and not result.error else ())
            if multilabel:
                print(format_multilabel(result, names, findings), file=out)
            else:
                print(format_prediction(result, names, min(request.top_k, len(names))),
                      file=out)
            counts["error" if result.error else "ok"] += 1
            attributes = catalog.attributes_of(result.source) if catalog else None
            if dicom_out is not None and not result.error:
                dicom_out.write(ModelOutput(result.source, result.probabilities,
                                            findings=findings, catalog_attributes=attributes))
    print(f"classified {counts['ok']} input(s), {counts['error']} unreadable"
          + (f"; results in {request.outfile}" if request.outfile else ""), file=sys.stderr)
    return finish_dicom_results(request, dicom_out, open_store)


def _segment(request: ClassifyRequest, predictor: Predictor, catalog: CatalogInputs | None,
             open_store: Callable[[str], ResultStore]) -> int:
    """One mask + overlay per input; a summary line each in --outfile."""
    from files.safe_names import NameAllocator
    from training.segmentation.prediction import (
        class_fractions,
        output_stem,
        sliding_window,
        write_outputs,
    )

    if not request.output_dir:
        raise ValueError("--output_dir is required for a segmentation model (masks and "
                         "overlays are written there)")
    os.makedirs(request.output_dir, exist_ok=True)
    config = predictor.config
    results = dicom_results(request, predictor)
    names = NameAllocator()
    counts = {"ok": 0, "error": 0}
    with _output(request.outfile) as out:
        print("# input\tmask\tclass fractions (class:share of pixels); ERROR lines name "
              "why an input could not be segmented", file=out)
        inputs = request_inputs(request, config, catalog)
        for source, value in tqdm(inputs, unit="image", desc="segment", file=sys.stderr,
                                  disable=not request.progress):
            if isinstance(value, str):
                print(f"{source}\tERROR\t{value}", file=out)
                counts["error"] += 1
                continue
            probabilities = sliding_window(value, config.image_size, predictor,
                                           request.tile_overlap, request.batch_size)
            mask = probabilities.argmax(axis=-1).astype("uint8")
            path = write_outputs(request.output_dir, output_stem(source, names), value, mask)
            print(f"{source}\t{path}\t{class_fractions(mask, config.class_names)}", file=out)
            counts["ok"] += 1
            if results is not None:
                results.write(ModelOutput(source, probabilities, mask=mask))
    print(f"segmented {counts['ok']} input(s), {counts['error']} unreadable; masks and "
          f"overlays in {request.output_dir}", file=sys.stderr)
    return finish_dicom_results(request, results, open_store)
