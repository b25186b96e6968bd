"""The command line as a person uses it: a real process, real files, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keepclear import __version__
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import ApiKeyInfo, Role
from keepclear.domain.parties import Contact
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import keys as key_store
from keepclear.store import registry as registry_store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "zones.geojson"


def run(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPCLEAR_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_version():
    result = subprocess.run([sys.executable, "-m", "keepclear.cli.main", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_init_party_force_unit_and_zones(tmp_path: Path):
    data = tmp_path / "deploy"
    assert run("init", data_dir=data).returncode == 0
    assert (data / "keepclear.db").exists()
    assert run("init", data_dir=data).returncode == 0  # idempotent
    assert (
        run("party", "add", "coalition", "--name", "Coalition", "--contact", "Duty:J3", data_dir=data).returncode == 0
    )
    assert run("party", "add", "russia", "--language", "ru", data_dir=data).returncode == 0
    assert run("force", "add", "sdf", "--party", "coalition", "--partner", data_dir=data).returncode == 0
    assert run("unit", "add", "viper11", "--force", "sdf", "--domain", "air", data_dir=data).returncode == 0
    listed = run("unit", "list", data_dir=data)
    assert "viper11\tVIPER11\tair" in listed.stdout and "coalition" in listed.stdout
    parties = run("party", "list", data_dir=data).stdout.splitlines()
    assert parties[0].startswith("coalition\tCoalition\ten\tDuty")
    imported = run("zones", "import", str(EXAMPLE), data_dir=data)
    assert (
        imported.returncode != 0 and "properties.permitted_parties[0]: no party 'un' is registered" in imported.stderr
    )
    assert run("party", "add", "un", "--name", "United Nations", data_dir=data).returncode == 0
    imported = run("zones", "import", str(EXAMPLE), data_dir=data)
    assert imported.returncode == 0, imported.stderr
    assert "imported 4 zones" in imported.stdout
    assert "eastern-ghouta\tde-escalation-zone" in run("zones", "list", data_dir=data).stdout
    out = tmp_path / "out.geojson"
    assert run("zones", "export", "-o", str(out), data_dir=data).returncode == 0
    assert len(json.loads(out.read_text())["features"]) == 4


def test_bad_zones_file_is_one_line_and_stores_nothing(tmp_path: Path):
    data = tmp_path / "deploy"
    run("init", data_dir=data)
    doc = json.loads(EXAMPLE.read_text())
    doc["features"][2]["geometry"]["coordinates"] = [200.0, 35.0]
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(doc))
    assert_one_line_error(
        run("zones", "import", str(bad), data_dir=data), "feature 2 geometry: longitude 200.0 is outside"
    )
    assert run("zones", "list", data_dir=data).stdout == ""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("zones", "import", "/nonexistent.geojson"), "No such file"),
        (("party", "add", "Bad Id"), "not a valid id"),
        (("party", "add", "p" * 44), "has 44 characters; a party id has at most 43"),
        (("force", "add", "f1", "--party", "nobody"), "party 'nobody' does not exist"),
        (("unit", "add", "u1", "--force", "nowhere", "--domain", "air"), "force 'nowhere' does not exist"),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: tuple[str, ...], fragment: str):
    data = tmp_path / "deploy"
    run("init", data_dir=data)
    assert_one_line_error(run(*args, data_dir=data), fragment)


def test_commands_before_init_say_to_run_init_and_create_nothing(tmp_path: Path):
    data = tmp_path / "never"
    assert_one_line_error(run("zones", "list", data_dir=data), "run `keepclear init` first")
    assert not data.exists()


def test_a_deployment_of_an_older_schema_is_refused_until_init_brings_it_up_to_date(tmp_path: Path):
    """A deployment an older keepclear made (here: the zones' version taken back out) is refused with
    what to do, before any request could fail on the missing table; ``init`` upgrades it in place."""
    from alembic import command

    from keepclear.store import Database
    from keepclear.store.migrate import alembic_config

    data = tmp_path / "old"
    assert run("init", data_dir=data).returncode == 0
    for party in ("coalition", "un"):  # the parties the example zones permit
        assert run("party", "add", party, data_dir=data).returncode == 0
    assert run("zones", "import", str(EXAMPLE), data_dir=data).returncode == 0
    db = Database(f"sqlite:///{data / 'keepclear.db'}")
    command.downgrade(alembic_config(db), "0014_zones_version-1")  # what the keepclear before it left
    db.dispose()
    assert_one_line_error(run("zones", "list", data_dir=data), "run `keepclear init` to bring it up to date")
    assert run("init", data_dir=data).returncode == 0
    listed = run("zones", "list", data_dir=data)
    assert listed.returncode == 0 and listed.stdout.strip(), "the zones stored before are still there"


def test_data_dir_from_environment(tmp_path: Path):
    data = tmp_path / "from-env"
    result = subprocess.run(
        [sys.executable, "-m", "keepclear.cli.main", "init"],
        capture_output=True,
        text=True,
        env={**os.environ, "KEEPCLEAR_DATA_DIR": str(data)},
    )
    assert result.returncode == 0, result.stderr
    assert (data / "keepclear.db").exists()


def test_bad_settings_file_is_one_line(tmp_path: Path):
    config = tmp_path / "keepclear.toml"
    config.write_text("data_dir = [1, 2]\n")
    result = subprocess.run(
        [sys.executable, "-m", "keepclear.cli.main", "--config", str(config), "init"], capture_output=True, text=True
    )
    assert_one_line_error(result, "data_dir")


def test_zones_check_lists_the_stored_zones_an_import_would_refuse_today(tmp_path: Path):
    """Zones stored before a rule (here written straight to the store, as an older keepclear did:
    a band past the bounds, a permitted party nobody registered) are named with what the import
    would say; the others pass, and nothing stored changes."""
    import dataclasses

    from shapely.geometry import Point

    from keepclear.domain.zones import AltitudeBand, Zone, ZoneKind, ZoneRules
    from keepclear.store import Database
    from keepclear.store import zones as zone_store

    data = tmp_path / "old-zones"
    assert run("init", data_dir=data).returncode == 0
    for party in ("coalition", "un"):
        assert run("party", "add", party, data_dir=data).returncode == 0
    assert run("zones", "import", str(EXAMPLE), data_dir=data).returncode == 0
    passing = run("zones", "check", data_dir=data)
    assert passing.returncode == 0 and passing.stdout == ""
    assert "all 4 stored zones pass today's import rules" in passing.stderr

    site = Zone("old-site", "Old site", ZoneKind.PROTECTED_SITE, Point(36.5, 35.1), buffer_m=500.0)
    old = [
        dataclasses.replace(site, altitude=AltitudeBand(0.0, 1_000_000.0)),
        dataclasses.replace(site, id="old-rule", rules=ZoneRules(frozenset({"coalition", "rusia"}))),
    ]
    db = Database(f"sqlite:///{data / 'keepclear.db'}")
    with db.write() as conn:
        zone_store.upsert_zones(conn, old)
    db.dispose()
    before = run("zones", "export", data_dir=data).stdout
    checked = run("zones", "check", data_dir=data)
    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [
        "old-rule\tproperties.permitted_parties[1]: no party 'rusia' is registered",
        "old-site\tproperties.upper_ft: 1e+06 is outside [-1500, 99999] ft",
    ]
    assert "2 of 6 stored zones would be refused on import today" in checked.stderr
    assert run("zones", "export", data_dir=data).stdout == before


def _feature(name: str, description: str) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": "forged",
        "geometry": {"type": "Point", "coordinates": [36.5, 35.1]},
        "properties": {"kind": "protected-site", "name": name, "radius_m": 500, "description": description},
    }


def test_listings_show_stored_text_on_one_line_without_terminal_escapes(tmp_path: Path):
    """Names an admin entered (the CLI, or the API with an admin key: no rule kept a line break or an
    ESC out of them) were printed as stored: a line break forged a listing's line, an escape sequence
    reached the operator's terminal. Each listing writes them escaped (``one_line_text``), one line
    an entry. Registry names are now refused at entry (test_registry_text); those stored before are
    written here straight to the store."""
    data = tmp_path / "forged"
    forged = "Alpha\nbravo\tdeleted\x1b[2J\u0085"
    shown = "Alpha\\nbravo\\tdeleted\\x1b[2J\\x85"
    assert run("init", data_dir=data).returncode == 0
    deployment = Deployment.open(Settings(data_dir=data))
    try:
        with deployment.db.write() as conn:
            registry_store.insert_party(conn, Party("p1", forged), 0.0)
            registry_store.set_roster(conn, "p1", [Contact(forged)])
            registry_store.insert_force(conn, Force("f1", forged, "p1"))
            registry_store.insert_unit(conn, Unit("u1", forged, Domain.AIR, forged, "f1"))
            key_store.insert_key(conn, ApiKeyInfo("k1", Role.LIAISON, "p1", forged, 0.0, None), "0" * 64)
    finally:
        deployment.close()
    zones = tmp_path / "zones.geojson"
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [_feature(forged, "a\nb")]}))
    imported = run("zones", "import", str(zones), data_dir=data)
    assert imported.returncode == 0, imported.stderr
    for listing in (("party", "list"), ("force", "list"), ("unit", "list"), ("keys", "list"), ("zones", "list")):
        out = run(*listing, data_dir=data).stdout
        assert len(out.splitlines()) == 1 and "\x1b" not in out and "\x85" not in out, (listing, out)
        assert shown in out, (listing, out)
    assert run("party", "list", data_dir=data).stdout.startswith(f"p1\t{shown}\ten\t{shown}")


def test_a_zone_description_is_bounded_as_other_zone_text(tmp_path: Path):
    """A zone's ``description`` (and its ``name``) had no bound: a zone file's description of
    megabytes was stored and sent with the zone to every reader. At most 4,000 characters (an
    activity's text), a name at most 200 (as each of ``names``)."""
    data = tmp_path / "long"
    assert run("init", data_dir=data).returncode == 0
    zones = tmp_path / "zones.geojson"
    for feature, problem in (
        (_feature("Site", "d" * 4001), "feature 0 description: 4001 characters, at most 4000"),
        (_feature("S" * 201, ""), "feature 0 name: 201 characters, at most 200"),
    ):
        zones.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        assert_one_line_error(run("zones", "import", str(zones), data_dir=data), problem)
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [_feature("S" * 200, "d" * 4000)]}))
    assert run("zones", "import", str(zones), data_dir=data).returncode == 0
