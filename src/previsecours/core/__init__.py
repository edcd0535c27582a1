"""Pure domain code: no Prefect, MLflow, GX or DVC import, no file or clock access."""
