"""The evaluation's human-readable outputs: report.html and model_card.md."""
