"""Thin HTTP entry points: translate requests to service calls and results to responses."""
