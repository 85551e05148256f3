"""The inference node (inference_node.py): studies in over DICOM, models run on each
stable study its routes match, results back to the PACS; a durable queue in between."""
