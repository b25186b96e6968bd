"""Put a scenario's world into a deployment: parties with their rosters, forces, units and zones.

The first step of ``keepclear demo`` and ``keepclear replay``; activities, hotline traffic and tracks
come later, played by ``keepclear.scenario.ScenarioDriver`` at their scenario times.
"""

from __future__ import annotations

import json

from keepclear.geo.zone_geojson import zones_to_geojson
from keepclear.scenario import Scenario
from keepclear.services.runtime.deployment import Deployment


def install_scenario(deployment: Deployment, scenario: Scenario) -> None:
    """Add every party (with roster), force, unit and zone of ``scenario`` to ``deployment``.

    Meant for a fresh deployment: an id already stored is a ``ConflictError`` from the registry, and
    whatever was added before it stays (each add is its own transaction, as in the registry).
    """
    registry = deployment.registry
    for spec in scenario.parties:
        registry.add_party(spec.party, list(spec.roster))
    for force in scenario.forces:
        registry.add_force(force)
    for unit in scenario.units:
        registry.add_unit(unit)
    if scenario.zones:
        # Through JSON, as a file would come: shapely's mapping() gives tuples the GeoJSON reader refuses.
        document = json.loads(json.dumps(zones_to_geojson(list(scenario.zones))))
        deployment.zones.import_document(document)
