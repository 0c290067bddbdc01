"""Data quality: feature contracts, missing-feature policies, delayed sources, their monitors."""
