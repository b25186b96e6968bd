"""Answers of /v1/record and /v1/incidents: the ledger's export and proofs, incidents and accounts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StatementOut(BaseModel):
    """The signed fields of an entry (``payload_sha256`` binds the payload text)."""

    type: str
    v: int
    party: str | None
    kind: str
    time_us: int
    payload_sha256: str
    nonce: str
    audience: list[str] | None


class EntryOut(BaseModel):
    """A ledger entry; ``payload`` is its canonical JSON text, None where the reader may not see it."""

    seq: int
    prev: str
    statement: StatementOut
    payload: str | None
    key: str | None
    sig: str | None


class PlaceholderOut(BaseModel):
    """An entry the reader may not read: where it is in the chain and its hash (the tree's leaf), nothing
    that says who, what, when or to whom (docs/record.md, "Placeholders")."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    prev: str
    hash: str


class CheckpointOut(BaseModel):
    seq: int
    head: str
    time_us: int
    key: str
    sig: str
    note: str | None


class LedgerKeyOut(BaseModel):
    key_id: str
    owner: str
    public_key: str
    custodial: bool
    from_seq: int
    until_seq: int | None


class RotationOut(BaseModel):
    seq: int
    owner: str
    old_key: str
    new_key: str
    reason: str


class RecordExport(BaseModel):
    """The ledger as a self-contained file to verify offline (docs/recording.md)."""

    format: str
    version: int
    exported_us: int
    for_party: str | None
    keys: list[LedgerKeyOut]
    rotations: list[RotationOut]
    entries: list[EntryOut | PlaceholderOut]
    checkpoints: list[CheckpointOut]


class InclusionProof(BaseModel):
    """RFC 9162 inclusion proof of entry ``seq`` in the signed head of ``tree_size`` (``checkpoint``)."""

    format: str
    version: int
    seq: int
    tree_size: int
    entry: EntryOut
    proof: list[str] = Field(description="Base64 node hashes, leaf to root.")
    checkpoint: str | None
    log_keys: list[str] = Field(description="The log's verifier keys (C2SP note vkeys).")


class ConsistencyProof(BaseModel):
    """RFC 9162 consistency proof from the signed head ``old`` to the signed head ``new``."""

    format: str
    version: int
    old: str | None
    new: str | None
    proof: list[str]
    log_keys: list[str]


class Cosignatures(BaseModel):
    """A signed head with every witness cosignature line; ``agreed`` once every party cosigned."""

    tree_size: int
    note: str
    cosigned_by: list[str]
    missing: list[str]
    agreed: bool


class IncidentOut(BaseModel):
    id: str
    kind: str
    status: str
    time: str
    opened: str
    reported_by: str | None
    parties: list[str]
    unit_ids: list[str]
    alert_ids: list[str]
    zone_id: str | None
    summary: str
    evidence_sha256: str | None
    agreed_by: list[str] = Field(
        default_factory=list,
        description="Involved parties whose last review step agreed: the review is agreed, and may close, once all do.",
    )
    disputed_by: list[str] = Field(
        default_factory=list, description="Involved parties whose last review step disputed: the review is disputed."
    )


class AccountOut(BaseModel):
    incident_id: str
    position: int
    party_id: str
    text: str
    written: str
    amends: int | None


class TimelineItemOut(BaseModel):
    """Something that happened around the incident: an alert change, a message, an account, a review
    step; ``payload`` is the event's own, as it was recorded."""

    incident_id: str
    position: int
    time_s: str = Field(description="ISO 8601 (the name is the stored field's).")
    kind: str
    party_id: str | None
    payload: dict[str, Any]


class IncidentDetail(IncidentOut):
    accounts: list[AccountOut]
    timeline: list[TimelineItemOut] = Field(
        description="The earliest incident_view_max_timeline_items items, by time; GET"
        " /v1/incidents/{id}/timeline pages through every one."
    )
    timeline_total: int = Field(description="How many items the whole timeline holds.")
