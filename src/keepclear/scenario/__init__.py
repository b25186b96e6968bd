"""Scenarios: a YAML file plus GeoJSON zones, a simulator of the feeds, and a driver that plays them.

``resolve_scenario("euphrates-2017")`` loads a bundled pack (or a file); ``Simulator`` turns unit plans
into track reports; ``ScenarioDriver`` plays reports and scripted actions into a deployment through a
``TrackTransport`` and an ``ActionHandler``.
"""

from keepclear.scenario.driver import DriverConfig, DriverProgress, ScenarioDriver
from keepclear.scenario.kinematics import Trajectory
from keepclear.scenario.loader import load_scenario, pack_names, pack_path, parse_scenario, resolve_scenario
from keepclear.scenario.model import (
    Expectation,
    ExpectationKind,
    PartyRole,
    PartySpec,
    Performance,
    Scenario,
    ScriptedActivity,
    ScriptedMessage,
    SensorModel,
    StoryBeat,
    UnitPlan,
    Waypoint,
)
from keepclear.scenario.player import ScriptPlayer
from keepclear.scenario.script import (
    AcknowledgeActivity,
    AcknowledgeMessage,
    ActionHandler,
    NotifyActivity,
    PostMessage,
    ScriptAction,
    script_actions,
)
from keepclear.scenario.simulator import Simulator
from keepclear.scenario.transport import HttpTransport, SinkTransport, TrackTransport, TransportError

__all__ = [
    "AcknowledgeActivity",
    "AcknowledgeMessage",
    "ActionHandler",
    "DriverConfig",
    "DriverProgress",
    "Expectation",
    "ExpectationKind",
    "HttpTransport",
    "NotifyActivity",
    "PartyRole",
    "PartySpec",
    "Performance",
    "PostMessage",
    "Scenario",
    "ScenarioDriver",
    "ScriptAction",
    "ScriptPlayer",
    "ScriptedActivity",
    "ScriptedMessage",
    "SensorModel",
    "Simulator",
    "SinkTransport",
    "StoryBeat",
    "TrackTransport",
    "Trajectory",
    "TransportError",
    "UnitPlan",
    "Waypoint",
    "load_scenario",
    "pack_names",
    "pack_path",
    "parse_scenario",
    "resolve_scenario",
    "script_actions",
]
