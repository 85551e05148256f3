"""The library behind train/eval/classify: optimizers, schedules, checkpoints, the loop,
metrics, prediction and export. The top-level scripts only parse flags and call in."""
