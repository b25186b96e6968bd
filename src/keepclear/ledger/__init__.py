"""The shared record: an append-only, SHA-256 hash-chained, Ed25519-signed log anyone can verify offline.

Layer: beside ``store`` (it persists through it); ``services`` and above use it.
"""

from keepclear.ledger.book import Ledger
from keepclear.ledger.canonical import canonical_bytes, canonical_text, sha256_hex
from keepclear.ledger.client import Submission, parse_submission, sign_submission
from keepclear.ledger.core import LedgerConfig, SignatureRefused
from keepclear.ledger.keys import KeyFolder, key_id_of, public_key_b64
from keepclear.ledger.model import DEPLOYMENT, Checkpoint, Entry, Statement
from keepclear.ledger.verdict import VerifyReport
from keepclear.ledger.verify import ExportFileError, extension_problem, load_export, parse_export, verify_document

__all__ = [
    "DEPLOYMENT",
    "Checkpoint",
    "Entry",
    "ExportFileError",
    "KeyFolder",
    "Ledger",
    "LedgerConfig",
    "SignatureRefused",
    "Statement",
    "Submission",
    "VerifyReport",
    "canonical_bytes",
    "canonical_text",
    "extension_problem",
    "key_id_of",
    "load_export",
    "parse_export",
    "parse_submission",
    "public_key_b64",
    "sha256_hex",
    "sign_submission",
    "verify_document",
]
