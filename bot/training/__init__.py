"""Training: the Iris data, the estimators and their evaluation."""
