"""Pure detection: strategic check of notified activities (no clock, no I/O)."""
