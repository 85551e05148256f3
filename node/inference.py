"""A batch of stable jobs through their routes' models, and their SRs into job folders.

The images of every job claimed together go through one route's model in shared batches
(`max_batch`), through the one input path classify_image uses. Each job's SRs are
written to a folder of its own; their UIDs derive from the route, the study, its
generation and the model's identity, so a job re-run after a crash writes the same
objects and a PACS that has them keeps one.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict

from node.job_queue import Instance, Job
from training.results.dicom_results import ClassificationResults
from training.results.result_codes import ResultCodes
from training.results.result_folder import ResultFolder
from training.serving.prediction import Predictor, file_inputs, predict

log = logging.getLogger(__name__)


def job_folder(results_dir: str, job: Job) -> str:
    return os.path.join(results_dir, f"job-{job.id:08d}")


def infer_jobs(predictor: Predictor, per: str, work: list[tuple[Job, list[Instance]]],
               results_dir: str, max_batch: int, route: str) -> dict[int, str | Exception]:
    """job id -> its result folder, or the error that stopped it."""
    paths = [i.path for _, instances in work for i in instances]
    by_path: dict[str, list] = defaultdict(list)  # a multi-frame instance: one per frame
    for prediction in predict(predictor, file_inputs(paths, predictor.config), max_batch):
        source = prediction.source
        by_path[str(getattr(source, "source", source))].append(prediction)
    names = predictor.config.class_names
    multilabel = predictor.config.multilabel
    codes = ResultCodes.load(None)
    out: dict[int, str | Exception] = {}
    for job, instances in work:
        try:
            folder = ResultFolder(job_folder(results_dir, job))
            results = ClassificationResults(
                folder, names, predictor.identity(), codes,
                f"node|{route}|{job.study_uid}|{job.generation}", per, multilabel, writers=0)
            problems = defaultdict(int)
            for instance in instances:
                for prediction in by_path.get(instance.path) or [None]:
                    if prediction is None or prediction.error:
                        problems[prediction.error if prediction else "not classified"] += 1
                        continue
                    findings = (predictor.findings(prediction.probabilities) if multilabel
                                else ())
                    results.add(prediction.source, prediction.probabilities, None, findings)
            summary = results.finish()
            if not summary.written:
                reason = "; ".join(f"{n} x {p}" for p, n in problems.items()) or (
                    "; ".join(summary.skipped[:2]) or "no result")
                raise ValueError(f"no image of the study gave a result ({reason})")
            if problems:
                log.warning("job %d: %d image(s) gave no result: %s", job.id,
                            sum(problems.values()), next(iter(problems)))
            out[job.id] = folder.directory
        except Exception as exc:  # one job's failure is that job's
            out[job.id] = exc
    return out
