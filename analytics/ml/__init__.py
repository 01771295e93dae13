"""The churn model: pipeline, evaluation, attributions."""
