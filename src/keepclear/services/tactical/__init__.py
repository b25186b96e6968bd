"""Tactical deconfliction: track ingest, history and the probe's tick."""
