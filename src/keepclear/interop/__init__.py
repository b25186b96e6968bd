"""Adapters between keepclear and the feeds and tools forces already run (docs/interop.md).

In: Cursor on Target (TAK), SBS-1/BaseStation (ADS-B receivers) and AIS NMEA, mapped to keepclear
units by ``interop.yaml`` and posted to a running keepclear's ``/v1/tracks`` with a feed key.
Out: what a party's key may read (``/v1/tracks``, ``/v1/alerts``) as CoT events to TAK.
The adapters speak to keepclear over its public HTTP API only, so need-to-know is exactly the API's.
"""
