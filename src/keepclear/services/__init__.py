"""Use cases: each module one capability, built on domain, geo, detect and store."""
