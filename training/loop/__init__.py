"""The training loop and its checkpoints: trainer, optimizers and schedules, distribution,
the run config, the one checkpoint loader."""
