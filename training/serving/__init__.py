"""Prediction and serving: batch prediction (classify_image), SavedModel export, model flags."""
