"""classify_image's inputs: files or TFRecords (--infile), or catalog images (--db_url),
each as (name, model input or the reason there is none), in order.

Catalog images keep what a DICOM result needs of them (the catalog's, possibly
de-identified, attributes) until their prediction is in: `CatalogInputs.attributes_of`
hands each over once, so memory holds only the images in flight.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from batch_prediction.request import ClassifyRequest
from training.loop.run_config import RunConfig
from training.serving.prediction import inputs_for, stored_image_inputs

Inputs = Iterator[tuple[str, np.ndarray | str]]


class CatalogInputs:
    """The images a catalog query names, and their attributes for DICOM results."""

    def __init__(self, request: ClassifyRequest) -> None:
        self.request = request
        self._attributes: dict[str, dict[str, str]] = {}

    def attributes_of(self, image_id: object) -> dict[str, str] | None:
        """The catalog attributes of image `image_id`, once (they go into its SR)."""
        return self._attributes.pop(str(image_id), None)

    def inputs(self, config: RunConfig) -> Inputs:
        """(image ID, model input or the reason there is none) per catalog image."""
        return stored_image_inputs(self._rows(), config)

    def _rows(self) -> Iterator[tuple[str, bytes]]:
        from dicom.ingestion.catalog import Catalog
        from dicom.ingestion.catalog_inputs import catalog_images
        from dicom.ingestion.database_url import resolve_db_url
        from dicom.ingestion.fetch import parse_query

        request = self.request
        catalog = Catalog.open(resolve_db_url(request.db_url), create=False)
        try:
            only = None
            if request.label_set:
                from dicom.labels.label_store import LabelStore

                try:
                    only = set(LabelStore(catalog).read(request.label_set)[1])
                except KeyError as exc:
                    raise ValueError(exc.args[0]) from None
            values = parse_query(request.query or "all")
            for image in catalog_images(catalog, values, request.column, only):
                self._attributes[image.image_id] = image.attributes
                yield image.image_id, image.png
        finally:
            catalog.dispose()


def request_inputs(request: ClassifyRequest, config: RunConfig,
                   catalog: CatalogInputs | None) -> Inputs:
    """From the catalog when the request names one, else from --infile."""
    if catalog is not None:
        return catalog.inputs(config)
    if request.infile is None:
        raise ValueError("give --infile, or --db_url with a catalog query")
    return inputs_for(request.infile, request.tfrecord, config)
