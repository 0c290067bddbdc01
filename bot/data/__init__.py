"""The dataset the model learns from: base Iris plus collected, validated samples."""
