"""The library behind train/eval/classify, by concern: the loop and its checkpoints,
classification, segmentation, evaluation, serving, DICOM results. The top-level scripts
only parse flags and call in."""
