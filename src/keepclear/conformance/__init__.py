"""``keepclear conformance``: a suite any operator runs against any keepclear deployment over HTTP.

It creates its own objects (named with a run id), checks need to know, lifecycles and bad input with
a key per role of three parties, and puts the deployment back where the API allows (docs/conformance.md).
"""

from keepclear.conformance.keys import KeysFile, load_keys, parse_keys
from keepclear.conformance.runner import Outcome, Report, load_known_failures, run_suite

__all__ = ["KeysFile", "Outcome", "Report", "load_keys", "load_known_failures", "parse_keys", "run_suite"]
