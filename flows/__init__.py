"""Prefect flows and deployments: thin wrappers over previsecours.pipelines."""
