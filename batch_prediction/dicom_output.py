"""classify_image's DICOM results: SRs (classifiers) or SEGs (segmentation models) into
--dicom_output_dir, then, with --store_to, to a PACS. Nothing is sent that is not
written first, and a re-run sends only what the PACS has not acknowledged."""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from batch_prediction.request import ClassifyRequest
from console.text import printable
from training.serving.prediction import Predictor

if TYPE_CHECKING:
    from dicom.network.pacs_protocols import ResultStore
    from training.results.result_writers import DicomResultWriter


def dicom_results(request: ClassifyRequest, predictor: Predictor) -> DicomResultWriter | None:
    """The writer of the model's kind of DICOM result (its task's `result_kind`), when
    --dicom_output_dir asks for them."""
    if not request.dicom_output_dir:
        return None
    from datasets.records.tasks import record_task
    from training.results.result_codes import ResultCodes
    from training.results.result_folder import ResultFolder
    from training.results.result_writers import ResultOrder, open_result_writer

    logging.getLogger("highdicom").setLevel(logging.WARNING)  # a line per module copied
    config = predictor.config
    kind = record_task(config.task)
    options: dict[str, Any] = (
        {"seg_type": request.seg_type} if kind.result_kind == "seg"
        else {"per": request.sr_per, "multilabel": kind.multi_label})
    order = ResultOrder(ResultFolder(request.dicom_output_dir), config.class_names,
                        predictor.identity(), ResultCodes.load(request.result_codes),
                        "" if kind.result_kind == "seg" else _run_key(request), options)
    return open_result_writer(kind.result_kind, order)


def _run_key(request: ClassifyRequest) -> str:
    """What the SR series' UID derives from: the inputs as the request names them."""
    if request.db_url:
        listed = (f"{request.db_url}|{request.query}|{request.column}|"
                  f"{request.label_set}").encode()
    elif request.tfrecord:
        listed = (request.infile or "").encode()
    else:
        with open(request.infile or "", "rb") as handle:
            listed = handle.read()
    return hashlib.sha256(listed).hexdigest()


def finish_dicom_results(request: ClassifyRequest, results: DicomResultWriter | None,
                         open_store: Callable[[str], ResultStore]) -> int:
    """Write what was collected, then store it to --store_to; `open_store(url)` opens the
    PACS with the command's credentials and TLS flags."""
    if results is None:
        return 0
    from dicom.network.remote import PacsError
    from training.results.dicom_results import store_results

    summary = results.finish()
    print(printable(summary.line(request.dicom_output_dir)), file=sys.stderr)
    if not request.store_to:
        return 0
    store = open_store(request.store_to)
    try:
        stored, refused = store_results(results.folder, store, store.describe())
    except PacsError as exc:
        raise PacsError(f"{exc}; the results are in {request.dicom_output_dir}, re-run the "
                        "same command to store the rest") from None
    for problem in refused:
        print(printable(f"  not stored: {problem}"), file=sys.stderr)
    print(f"stored {stored} object(s) to {store.describe()}"
          + (f", {len(refused)} refused" if refused else ""), file=sys.stderr)
    return 0
