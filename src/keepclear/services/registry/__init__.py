"""Parties, forces, units and their API keys."""
