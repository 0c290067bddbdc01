"""Retraining: collected data in, a gated candidate version out (runbooks/retrain.md)."""
