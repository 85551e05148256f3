"""A classify_image run: every input's prediction (a classifier's probabilities, a
segmentation model's mask) goes to the result writers the request asks for: its text
output always (batch_prediction.text_output), DICOM SRs or SEGs with
--dicom_output_dir, then the PACS with --store_to."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from tqdm import tqdm

from batch_prediction.dicom_output import dicom_results, finish_dicom_results
from batch_prediction.inputs import CatalogInputs, request_inputs
from batch_prediction.request import ClassifyRequest
from batch_prediction.text_output import MaskFiles, open_text_output, unreadable
from console.text import printable
from datasets.records.tasks import record_task
from training.results.result_writers import ModelOutput
from training.serving.prediction import Predictor, predict

if TYPE_CHECKING:
    from dicom.network.pacs_protocols import ResultStore


def run_request(request: ClassifyRequest, predictor: Predictor,
                open_store: Callable[[str], ResultStore]) -> int:
    """Classify (or segment) what `request` names with `predictor`; the exit status."""
    catalog = CatalogInputs(request) if request.db_url else None
    task = record_task(predictor.config.task)
    if task.dense:
        MaskFiles.check(request)
    outputs = (_segmented(request, predictor, catalog) if task.dense
               else _classified(request, predictor, catalog))
    with _output(request.outfile) as out:
        text = open_text_output(task.result_kind, out, request, predictor)
        dicom_out = dicom_results(request, predictor)
        for output in tqdm(outputs, unit="image", file=sys.stderr,
                           desc="segment" if task.dense else "classify",
                           disable=not request.progress):
            text.write(output)
            if dicom_out is not None:
                dicom_out.write(output)
        print(printable(text.finish()), file=sys.stderr)
    return finish_dicom_results(request, dicom_out, open_store)


@contextlib.contextmanager
def _output(path: str | None):
    if path is None:
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as handle:
        yield handle


def _classified(request: ClassifyRequest, predictor: Predictor,
                catalog: CatalogInputs | None) -> Iterator[ModelOutput]:
    """Each input's probabilities (and a multi-label model's findings), batched."""
    multilabel = predictor.config.multilabel
    for result in predict(predictor, request_inputs(request, predictor.config, catalog),
                          request.batch_size):
        if result.error:
            yield unreadable(result.source, result.error)
            continue
        assert result.probabilities is not None  # every prediction without an error has them
        findings = predictor.findings(result.probabilities) if multilabel else ()
        yield ModelOutput(result.source, result.probabilities, findings=findings,
                          catalog_attributes=catalog.attributes_of(result.source)
                          if catalog else None)


def _segmented(request: ClassifyRequest, predictor: Predictor,
               catalog: CatalogInputs | None) -> Iterator[ModelOutput]:
    """Each input's class probabilities and mask, tile by tile at the model's size."""
    from training.segmentation.prediction import sliding_window

    config = predictor.config
    for source, value in request_inputs(request, config, catalog):
        if isinstance(value, str):
            yield unreadable(source, value)
            continue
        probabilities = sliding_window(value, config.image_size, predictor,
                                       request.tile_overlap, request.batch_size)
        yield ModelOutput(source, probabilities, image=value,
                          mask=probabilities.argmax(axis=-1).astype("uint8"))
