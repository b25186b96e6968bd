"""GeoJSON as the API answers it (RFC 7946): zones, activity volumes and conflict overlaps."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: A number as it was computed: an integer stays an integer in the answer (``5``, not ``5.0``).
Number = float | int
#: A position and the nestings of positions the geometry types use: Point; LineString and
#: MultiPoint; Polygon and MultiLineString; MultiPolygon (lon, lat[, alt]).
Position = list[float]
Coordinates = Position | list[Position] | list[list[Position]] | list[list[list[Position]]]


class Geometry(BaseModel):
    """A GeoJSON geometry: ``coordinates`` for the simple types, ``geometries`` for a collection
    (an overlap of two areas may be one)."""

    type: Literal[
        "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"
    ]
    coordinates: Coordinates | None = None
    geometries: list[Geometry] | None = None


class ZoneProperties(BaseModel):
    """A zone's properties (docs/zones.md): ``radius_m`` for a circle, ``buffer_m`` for a buffered line."""

    kind: str
    name: str
    lower_ft: Number
    upper_ft: Number
    valid_from: str | None
    valid_until: str | None
    permitted_parties: Literal["*"] | list[str] = Field(description='"*" (every party) or the party ids.')
    min_notice_h: Number
    description: str
    names: dict[str, str] | None = Field(
        None, description="The name in other languages (language tag -> name); present only when given."
    )
    radius_m: Number | None = None
    buffer_m: Number | None = None


class ZoneFeature(BaseModel):
    """A zone as a GeoJSON Feature, as the importer reads it back."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: ZoneProperties


class ZoneCollection(BaseModel):
    """Every zone as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[ZoneFeature]
