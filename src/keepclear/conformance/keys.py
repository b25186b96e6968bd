"""The keys file of a conformance run: an admin key and, per party, a key for each role.

```yaml
admin: kc_...
parties:
  alpha: {liaison: kc_..., observer: kc_..., feed: kc_...}
  bravo: {liaison: kc_..., observer: kc_..., feed: kc_...}
  charlie: {liaison: kc_..., observer: kc_..., feed: kc_...}
```

JSON is valid YAML, so the same shape in JSON works too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from keepclear.errors import ValidationError

PARTY_ROLES = ("liaison", "observer", "feed")
MIN_PARTIES = 3


@dataclass(frozen=True)
class KeysFile:
    """``admin``: the admin key; ``parties``: party id -> role -> key, in the file's order."""

    admin: str
    parties: dict[str, dict[str, str]]

    def party_ids(self) -> list[str]:
        return list(self.parties)


def parse_keys(document: object, where: str = "keys file") -> KeysFile:
    """Check the shape of a parsed keys document; every problem is named by its place."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ValidationError([f"{where}: must be a mapping with 'admin' and 'parties'"])
    unknown = sorted(set(document) - {"admin", "parties"})
    problems += [f"{where}: {name}: unknown field" for name in unknown]
    admin = document.get("admin")
    if not isinstance(admin, str) or not admin:
        problems.append(f"{where}: admin: required, the admin key")
    parties = document.get("parties")
    out: dict[str, dict[str, str]] = {}
    if not isinstance(parties, dict) or len(parties) < MIN_PARTIES:
        problems.append(f"{where}: parties: required, at least {MIN_PARTIES} parties each mapping role -> key")
    else:
        for party, roles in parties.items():
            if not isinstance(roles, dict):
                problems.append(f"{where}: parties.{party}: must map {', '.join(PARTY_ROLES)} to keys")
                continue
            for role in PARTY_ROLES:
                if not isinstance(roles.get(role), str) or not roles.get(role):
                    problems.append(f"{where}: parties.{party}.{role}: required, a {role} key of {party}")
            problems += [f"{where}: parties.{party}.{r}: unknown role" for r in sorted(set(roles) - set(PARTY_ROLES))]
            out[str(party)] = {r: str(roles.get(r)) for r in PARTY_ROLES}
    if problems:
        raise ValidationError(problems)
    return KeysFile(str(admin), out)


def load_keys(path: Path) -> KeysFile:
    """Read a keys file (YAML or JSON)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationError([f"{path}: {exc}"]) from None
    return parse_keys(document, str(path))
