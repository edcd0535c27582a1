"""One function per step (ingest, train, promote, forecast, monitor): core + adapters."""
