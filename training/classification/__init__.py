"""Classification: single-label metrics and the confusion matrix image."""
