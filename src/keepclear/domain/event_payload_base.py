"""The base of the typed event payloads (``EventPayload``): strict checking of an event's payload dict
with pydantic, and its versioned serialised form; and the two checks every versioned document makes
(``json_object``, ``check_version``). The payload of each kind: ``domain.event_payloads``.

Validation is pydantic's (strict, over JSON) on plain frozen dataclasses; the validators are built on
first use, so importing this module costs no schema building.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import pydantic

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.json_input import parse_json
from keepclear.domain.limits import DEFAULT_LIMITS
from keepclear.errors import Problem, ProblemCode, ValidationError

#: Every payload class checks strictly and refuses fields it does not declare.
_STRICT = pydantic.ConfigDict(extra="forbid", strict=True)


@functools.cache
def _adapter_of(cls_in_tuple: tuple[type[Any]]) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(cls_in_tuple[0])


def _adapter(cls: type[Any]) -> pydantic.TypeAdapter[Any]:
    """The validator of a payload class, built once on first use."""
    return _adapter_of((cls,))


def _problems(exc: pydantic.ValidationError, where: str) -> list[str]:
    """pydantic's errors as problems naming the field (``payload.cpa.dcpa_m: ...``)."""
    out: list[str] = []
    for error in exc.errors(include_url=False):
        field = ".".join([where, *(str(part) for part in error.get("loc", ()))])
        message = "unknown field" if error.get("type") == "unexpected_keyword_argument" else error.get("msg", "")
        out.append(Problem(field, ProblemCode.INVALID, message))
    return out


class EventPayload:
    """Base of the typed payloads: the kinds a class describes and the version of its form."""

    __slots__ = ()
    __pydantic_config__: ClassVar[pydantic.ConfigDict] = _STRICT
    #: The event kinds whose payload this class describes.
    KINDS: ClassVar[frozenset[EventKind]] = frozenset()
    #: The version of the serialised form; raised with every change of a field.
    SCHEMA_VERSION: ClassVar[int] = 1

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], where: str = "payload") -> Self:
        """The typed payload of an event's ``payload``; ``ValidationError`` naming each wrong field."""
        try:
            value: Self = _adapter(cls).validate_json(json.dumps(payload, allow_nan=False))
        except pydantic.ValidationError as exc:
            raise ValidationError(_problems(exc, where)) from None
        except (TypeError, ValueError) as exc:
            raise ValidationError([Problem(where, ProblemCode.INVALID, f"not JSON: {exc}")]) from None
        return value

    def to_payload(self) -> dict[str, Any]:
        """The payload as JSON-ready values (the form ``from_payload`` reads)."""
        dumped: dict[str, Any] = _adapter(type(self)).dump_python(self, mode="json")
        return dumped

    def to_json(self) -> str:
        """The versioned serialised form: the payload's fields and ``schema_version``."""
        return json.dumps({"schema_version": self.SCHEMA_VERSION, **self.to_payload()}, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Read ``to_json``'s form; refuses another ``schema_version`` and any wrong field."""
        document = json_object(text, cls.__name__)
        check_version(cls.__name__, cls.SCHEMA_VERSION, document.pop("schema_version", None))
        return cls.from_payload(document)


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """The JSON object of ``text``, read by the strict reader of everything parties send."""
    document = parse_json(text, DEFAULT_LIMITS, source=what)
    if not isinstance(document, dict):
        raise ValidationError([Problem("", ProblemCode.INVALID, f"{what} must be a JSON object")])
    return document


def check_version(what: str, known: int, version: object, field: str = "schema_version") -> None:
    """Refuse a ``version`` other than the ``known`` one, saying which this build reads."""
    if version == known and isinstance(version, int) and not isinstance(version, bool):
        return
    raise ValidationError(
        [
            Problem(
                field, ProblemCode.UNKNOWN_VERSION, f"{version!r} is not a version of {what} this build reads ({known})"
            )
        ]
    )
