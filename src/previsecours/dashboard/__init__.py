"""The planners dashboard."""
