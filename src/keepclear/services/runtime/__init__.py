"""Wiring: the deployment, the running service's runtime, the event bus, replay of scenarios."""
