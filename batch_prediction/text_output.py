"""classify_image's own output (--outfile, else stdout) as result writers, beside the DICOM
ones: a classifier's lines of classes and probabilities, a segmentation model's mask and
overlay PNGs with a line each. A kind of result (a task's `result_kind`) gets its text
output from one entry in `TEXT_OUTPUTS`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TextIO

import numpy as np

from batch_prediction.request import ClassifyRequest
from files.safe_names import NameAllocator
from training.results.result_writers import ModelOutput, ResultWriter
from training.serving.prediction import (
    HEADER,
    Prediction,
    Predictor,
    format_multilabel,
    format_prediction,
    multilabel_header,
)


class _Counts:
    def __init__(self) -> None:
        self.ok = self.error = 0

    def add(self, output: ModelOutput) -> None:
        if output.error:
            self.error += 1
        else:
            self.ok += 1


class PredictionText:
    """A classifier's: a header line (which thresholds and calibration apply), then one
    tab-separated line per input, in input order; an unreadable input's line says ERROR
    and why. `finish` returns the run's summary line."""

    def __init__(self, out: TextIO, request: ClassifyRequest, predictor: Predictor) -> None:
        self.out, self.request, self.predictor = out, request, predictor
        self.names = predictor.config.class_names
        self.top_k = min(request.top_k, len(self.names))
        self.multilabel = predictor.config.multilabel
        thresholds = predictor.thresholds  # a multi-label model is loaded with its own
        header = multilabel_header(thresholds) if self.multilabel and thresholds else HEADER
        note = predictor.calibration_note()
        print(header + (f"; {note}" if note else ""), file=out)
        self.counts = _Counts()

    def write(self, output: ModelOutput) -> None:
        """One input's line."""
        prediction = Prediction(output.source, None if output.error else output.probabilities,
                                output.error)
        line = (format_multilabel(prediction, self.names, output.findings) if self.multilabel
                else format_prediction(prediction, self.names, self.top_k))
        print(line, file=self.out)
        self.counts.add(output)

    def finish(self) -> str:
        """'classified N input(s), M unreadable[; results in FILE]'."""
        where = f"; results in {self.request.outfile}" if self.request.outfile else ""
        return f"classified {self.counts.ok} input(s), {self.counts.error} unreadable{where}"


class MaskFiles:
    """A segmentation model's: each input's mask and its overlay on the image as PNGs in
    --output_dir (safe, unique names), and a line each naming the mask and giving the
    share of pixels of every class. `finish` returns the run's summary line."""

    def __init__(self, out: TextIO, request: ClassifyRequest, predictor: Predictor) -> None:
        self.output_dir = self.check(request)
        os.makedirs(self.output_dir, exist_ok=True)
        self.out = out
        self.class_names = predictor.config.class_names
        self.names = NameAllocator()
        print("# input\tmask\tclass fractions (class:share of pixels); ERROR lines name "
              "why an input could not be segmented", file=out)
        self.counts = _Counts()

    @staticmethod
    def check(request: ClassifyRequest) -> str:
        """The folder the masks go to; a one-line ValueError when the request names none
        (before anything is opened or written)."""
        if not request.output_dir:
            raise ValueError("--output_dir is required for a segmentation model (masks and "
                             "overlays are written there)")
        return request.output_dir

    def write(self, output: ModelOutput) -> None:
        """One input's PNGs and line."""
        from training.segmentation.prediction import class_fractions, output_stem, write_outputs

        self.counts.add(output)
        if output.error:
            print(f"{output.source}\tERROR\t{output.error}", file=self.out)
            return
        if output.mask is None or output.image is None:
            raise ValueError(f"{output.source}: mask files need the image and its mask")
        path = write_outputs(self.output_dir, output_stem(output.source, self.names),
                             output.image, output.mask)
        print(f"{output.source}\t{path}\t{class_fractions(output.mask, self.class_names)}",
              file=self.out)

    def finish(self) -> str:
        """'segmented N input(s), M unreadable; masks and overlays in DIR'."""
        return (f"segmented {self.counts.ok} input(s), {self.counts.error} unreadable; masks "
                f"and overlays in {self.output_dir}")


#: A task's `result_kind` -> its text output.
TEXT_OUTPUTS: dict[str, Callable[[TextIO, ClassifyRequest, Predictor], ResultWriter]] = {
    "sr": PredictionText,
    "seg": MaskFiles,
}


def open_text_output(kind: str, out: TextIO, request: ClassifyRequest,
                     predictor: Predictor) -> ResultWriter:
    """The text output of `kind` ("sr", "seg"); a one-line ValueError naming the known."""
    try:
        make = TEXT_OUTPUTS[kind]
    except KeyError:
        raise ValueError(f"no text output for {kind!r}: known are "
                         f"{', '.join(sorted(TEXT_OUTPUTS))}") from None
    return make(out, request, predictor)


def unreadable(source: str, reason: str) -> ModelOutput:
    """The ModelOutput of an input that could not be read."""
    return ModelOutput(source, np.empty(0, np.float32), error=reason)
