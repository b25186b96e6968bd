"""Shared geography: zones with their altitude bands, validity and rules."""
