"""Operations beside the steps: serving the platform, team servers, retraining every
territory, generating synthetic extracts. They compose pipelines and adapters; flows and the
CLI call them."""
