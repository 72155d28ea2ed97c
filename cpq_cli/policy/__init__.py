"""The policy set: model, loading and merging."""
