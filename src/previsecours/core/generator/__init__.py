"""A calibrated, seeded generator of SDIS-like intervention extracts (see `events`)."""

from previsecours.core.generator.events import generate_events

__all__ = ["generate_events"]
