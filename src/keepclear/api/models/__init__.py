"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from keepclear.services.record.signer import RecordStatus

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
#: A JSON number a feed reports (an integer is one): ``"35"`` or ``true`` is refused naming its
#: place, never read as 35.0 or 1.0.
ReportNumber = Annotated[float, Field(strict=True)]
#: A whole number a request body gives (a version, a position, a tree size, a sequence number): a JSON
#: integer. ``"5"``, ``5.0`` and ``true`` are refused naming the field, never read as 5 (or 1). Every
#: integer of a request body is one of these, every number a ``ReportNumber`` (test_strict_numbers).
WholeNumber = Annotated[int, Field(strict=True)]


class Strict(BaseModel):
    """Unknown fields are refused, not ignored: a typo must not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ContactModel(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field("", max_length=200)


class PartyIn(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    language: Literal["en", "ru", "ar", "fr"] = "en"
    roster: list[ContactModel] = Field(default_factory=list, max_length=20)


class PartyOut(BaseModel):
    id: str
    name: str
    language: str


class ForceIn(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    party_id: str = Field(pattern=ID_PATTERN)
    partner: bool = False


class ForceOut(BaseModel):
    id: str
    name: str
    party_id: str
    partner: bool


class UnitIn(Strict):
    id: str = Field(pattern=ID_PATTERN)
    callsign: str = Field(min_length=1, max_length=64)
    domain: Literal["air", "land", "sea"]
    kind: str = Field("", max_length=64)
    force_id: str = Field(pattern=ID_PATTERN)


class UnitOut(BaseModel):
    id: str
    callsign: str
    domain: str
    kind: str
    force_id: str
    party_id: str


class KeyIn(Strict):
    role: Literal["admin", "liaison", "feed", "observer"]
    party_id: str | None = Field(None, pattern=ID_PATTERN)
    label: str = Field("", max_length=200)


class KeyOut(BaseModel):
    key_id: str
    role: str
    party_id: str | None
    label: str
    created: str
    revoked: str | None


class KeyCreated(KeyOut):
    key: str = Field(description="The full key; shown this once, never stored.")


class WhoAmI(BaseModel):
    key_id: str
    role: str
    party_id: str | None
    person: str
    #: The deployment's clock (a scenario's in a demo or replay) and its rate, clock seconds per wall
    #: second (0 while it stands still), so a client shows the deployment's time, not its own.
    now: str
    clock_rate: float


class Health(BaseModel):
    """Liveness, and whether the record keeps up: ``degraded`` with the reasons when it does not (the
    component and what is wrong, in words: no counts, as anyone may ask)."""

    status: Literal["ok", "degraded"]
    version: str
    problems: list[str] = Field(default_factory=list)


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (validated feature by feature by the zone importer)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]] = Field(max_length=100_000)


class ZonesImported(BaseModel):
    imported: list[str]


class TrackReportIn(BaseModel):
    """One position report. Numbers are checked per report, so one bad report spoils no other."""

    unit_id: str = Field(max_length=64)
    time: str = Field(max_length=40, description="ISO 8601 with zone, e.g. 2017-11-01T12:00:00Z")
    lat_deg: ReportNumber
    lon_deg: ReportNumber
    alt_m: ReportNumber = 0.0
    vel_east_mps: ReportNumber = 0.0
    vel_north_mps: ReportNumber = 0.0
    vel_up_mps: ReportNumber = 0.0


class TrackColumnsIn(Strict):
    """The same reports as columns: element ``i`` of every column is report ``i``. Every column has
    the same length; the optional ones default to 0 for every report, as in a row."""

    unit_id: list[Annotated[str, Field(max_length=64)]] = Field(max_length=10_000)
    time: list[Annotated[str, Field(max_length=40)]] = Field(
        max_length=10_000, description="ISO 8601 with zone, e.g. 2017-11-01T12:00:00Z"
    )
    lat_deg: list[ReportNumber] = Field(max_length=10_000)
    lon_deg: list[ReportNumber] = Field(max_length=10_000)
    alt_m: list[ReportNumber] | None = Field(default=None, max_length=10_000)
    vel_east_mps: list[ReportNumber] | None = Field(default=None, max_length=10_000)
    vel_north_mps: list[ReportNumber] | None = Field(default=None, max_length=10_000)
    vel_up_mps: list[ReportNumber] | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _same_lengths(self) -> TrackColumnsIn:
        count = len(self.unit_id)
        uneven = [
            f"columns.{name}: {len(values)} values, but unit_id has {count}"
            for name, values in self
            if values is not None and len(values) != count
        ]
        if uneven:
            raise ValueError("; ".join(uneven))
        return self


class TrackBatchIn(Strict):
    """A batch of reports: as ``reports`` (one object each) or as ``columns`` (one array per field,
    several times cheaper to parse: for high-rate feeds). Exactly one of the two."""

    reports: list[TrackReportIn] | None = Field(default=None, max_length=10_000)
    columns: TrackColumnsIn | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> TrackBatchIn:
        if (self.reports is None) == (self.columns is None):
            raise ValueError(
                "give the reports either as reports (a list of objects) or as columns, not both or neither"
            )
        return self


class RefusedReport(BaseModel):
    index: int
    unit_id: str
    problems: list[str]


class TrackBatchResult(BaseModel):
    accepted: int
    accepted_indices: list[int]
    refused: list[RefusedReport]


class TrackStateOut(BaseModel):
    unit_id: str
    party_id: str
    domain: str
    time: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    vel_east_mps: float
    vel_north_mps: float
    vel_up_mps: float


class Problem(BaseModel):
    """RFC 9457 problem details: what was wrong and where."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[str] | None = None
    #: The machine code of each of ``errors``, in order (``ProblemCode``: ``invalid`` unless more specific).
    codes: list[str] | None = None
    current: Any = None


def _problem_response(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {"application/problem+json": {}}}


#: Error answers every endpoint may give, documented once for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Bad request"),
    401: _problem_response("No key, or a malformed, unknown or revoked key"),
    403: _problem_response("The key's role or party may not do this"),
    404: _problem_response("Not found"),
    409: _problem_response("Conflict with what is stored (duplicate id, stale version)"),
    413: _problem_response("Request body too large"),
    422: _problem_response("Invalid input; `errors` names each field"),
    429: _problem_response("Too many requests; retry after the Retry-After header"),
    500: _problem_response("Internal error (logged)"),
    503: _problem_response("The record's outbox is full: the write was not made; retry after the Retry-After header"),
}


class Metrics(BaseModel):
    """Operational figures of this process."""

    ingest_accepted_total: int
    ingest_refused_total: int
    ingest_queued: int
    ticks: int
    tick_errors: int
    task_duration_s: dict[str, float]
    rss_bytes: int
    counters: dict[str, float] = Field(default_factory=dict)
    record: RecordStatus | None = None  # the signer's own status dataclass: one definition of its fields
    events_subscriber_failures_total: int = 0
    #: The answering process (several API processes may share one address: ``reuse_port``).
    process_id: int = 0
    #: Why ``/v1/health`` says ``degraded``, with the counts it leaves out (empty: ok).
    problems: list[str] = Field(default_factory=list)
