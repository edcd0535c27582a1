"""Thin adapters: the only modules that touch files, MLflow, Great Expectations, DVC or servers."""
