"""Incidents with evidence and each party's account, and their metrics."""
