"""A batch of stable jobs through their route's model, and their results into job folders.

Classification routes: the images of every job claimed together go through the model in
shared batches (`max_batch`), through the one input path classify_image uses; each job's
SRs (one per image, or one per study with the images' probabilities aggregated) are
then written by node.result_writing, in processes of their own.
Segmentation routes: each image is segmented tile by tile, as classify_image does, and
each job gets one SEG per source series.

Each job's results are written to a folder of its own; their UIDs derive from the route,
the study, its generation and the model's identity, so a job re-run after a crash writes
the same objects and a PACS that has them keeps one.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable

from node.config import Route, results_fit_task
from node.job_queue import Instance, Job
from node.result_writing import SrModel, SrOrder
from training.results.classification_report import StudyAggregation
from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder
from training.results.result_writers import ModelOutput, ResultOrder, open_result_writer
from training.serving.prediction import Predictor, file_inputs, predict

log = logging.getLogger(__name__)

Work = list[tuple[Job, list[Instance]]]
SEGMENTATION_TILE_OVERLAP = 0.5
"""classify_image's default --tile_overlap."""


def job_folder(results_dir: str, job: Job) -> str:
    """Where job `job` writes its results: one folder per job under `results_dir`."""
    return os.path.join(results_dir, f"job-{job.id:08d}")


def check_route_model(route: Route, predictor: Predictor) -> None:
    """ValueError in one line when the route's results do not fit its model's task."""
    if not results_fit_task(route.results, predictor.config.task):
        raise ValueError(f"route {route.name}: results: {route.results} but {route.model} is a "
                         f"{predictor.config.task} model")


def classify_jobs(predictor: Predictor, route: Route, work: Work, results_dir: str,
                  max_batch: int) -> tuple[SrModel, dict[int, SrOrder]]:
    """The images of every job in shared batches; job id -> the order for its SRs (for
    `node.result_writing`)."""
    check_route_model(route, predictor)
    paths = [i.path for _, instances in work for i in instances]
    by_path: dict[str, list] = defaultdict(list)  # a multi-frame instance: one per frame
    for prediction in predict(predictor, file_inputs(paths, predictor.config), max_batch):
        source = prediction.source
        by_path[str(getattr(source, "source", source))].append(prediction)
    config = predictor.config
    multilabel = config.multilabel
    model = SrModel(tuple(config.class_names), predictor.identity(), multilabel)
    findings_of = None
    if multilabel:
        findings_of = predictor.label_findings()
    aggregation = (StudyAggregation(route.aggregate, findings_of) if route.per == "study"
                   else None)
    orders: dict[int, SrOrder] = {}
    for job, instances in work:
        made: list = []
        problems: defaultdict[str, int] = defaultdict(int)
        for instance in instances:
            for prediction in by_path.get(instance.path) or [None]:
                if prediction is None or prediction.error:
                    problems[prediction.error if prediction else "not classified"] += 1
                    continue
                found = findings_of(prediction.probabilities) if findings_of else ()
                made.append((prediction.source, prediction.probabilities, found))
        orders[job.id] = SrOrder(job.id, job_folder(results_dir, job), _run_key(route, job),
                                 route.per, aggregation, tuple(made),
                                 tuple(problems.items()))
    return model, orders


def _run_key(route: Route, job: Job) -> str:
    return f"node|{route.name}|{job.study_uid}|{job.generation}"


def segment_jobs(predictor: Predictor, route: Route, work: Work, results_dir: str,
                 max_batch: int) -> dict[int, tuple[str, int] | Exception]:
    """Each job's images segmented and its SEGs written; job id -> (its folder, images
    that gave none), or the error that stopped it."""
    check_route_model(route, predictor)
    from training.segmentation.prediction import sliding_window

    config = predictor.config
    codes = ResultCodes.load(None)
    out: dict[int, tuple[str, int] | Exception] = {}
    for job, instances in work:
        try:
            folder = ResultFolder(job_folder(results_dir, job))
            results = open_result_writer("seg", ResultOrder(
                folder, config.class_names, predictor.identity(), codes, _run_key(route, job),
                {"seg_type": route.seg_type}))
            problems: dict[str, int] = defaultdict(int)
            inputs: Iterable = file_inputs([i.path for i in instances], config)
            for source, value in inputs:
                if isinstance(value, str):
                    problems[value] += 1
                    continue
                probabilities = sliding_window(value, config.image_size, predictor,
                                               SEGMENTATION_TILE_OVERLAP, max_batch)
                results.write(ModelOutput(
                    source, probabilities, mask=probabilities.argmax(axis=-1).astype("uint8")))
            summary = results.finish()
            if not summary.written:
                reason = "; ".join(f"{n} x {p}" for p, n in problems.items()) or (
                    "; ".join(summary.skipped[:2]) or "no result")
                raise ValueError(f"no image of the study gave a result ({reason})")
            out[job.id] = (folder.directory, sum(problems.values()) + len(summary.skipped))
        except Exception as exc:  # one job's failure is that job's
            out[job.id] = exc
    return out
