"""The scenario's script as timed actions: notify, post, acknowledge — in the order they happen.

The driver hands each action, at its scenario time, to an ``ActionHandler`` that the service layer
provides (it maps scenario refs such as ``a1`` to the ids its services assign). An acknowledgement
whose delay is None (never) produces no action: that silence is what the escalation must catch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from keepclear.scenario.model import Scenario, ScriptedActivity, ScriptedMessage


@dataclass(frozen=True, slots=True)
class NotifyActivity:
    """``activity.party_id`` notifies ``activity.body`` (the scenario calls it ``activity.ref``)."""

    time_s: float
    activity: ScriptedActivity


@dataclass(frozen=True, slots=True)
class AcknowledgeActivity:
    """``party_id`` acknowledges the activity the scenario calls ``ref``."""

    time_s: float
    ref: str
    party_id: str


@dataclass(frozen=True, slots=True)
class PostMessage:
    """``message.from_party`` posts ``message`` on the hotline (thread ``message.thread``)."""

    time_s: float
    message: ScriptedMessage


@dataclass(frozen=True, slots=True)
class AcknowledgeMessage:
    """``party_id`` acknowledges the hotline message the scenario calls ``ref``."""

    time_s: float
    ref: str
    party_id: str


ScriptAction = NotifyActivity | AcknowledgeActivity | PostMessage | AcknowledgeMessage

# Within one instant: notifications before posts before acknowledgements (an ack never precedes its subject).
_ORDER = {NotifyActivity: 0, PostMessage: 1, AcknowledgeActivity: 2, AcknowledgeMessage: 3}


class ActionHandler(Protocol):
    """What plays the script against a deployment (in process or over HTTP)."""

    def perform(self, action: ScriptAction) -> None:
        """Carry out ``action`` now (the deployment's clock already reads ``action.time_s``)."""


def script_actions(scenario: Scenario) -> list[ScriptAction]:
    """Every scripted action of ``scenario`` in time order (ties: notify, post, then acknowledgements)."""
    actions: list[ScriptAction] = []
    for activity in scenario.activities:
        actions.append(NotifyActivity(activity.notify_at_s, activity))
        for party, delay_s in activity.acks.items():
            if delay_s is not None:
                actions.append(AcknowledgeActivity(activity.notify_at_s + delay_s, activity.ref, party))
    for message in scenario.messages:
        actions.append(PostMessage(message.at_s, message))
        for party, delay_s in message.acks.items():
            if delay_s is not None:
                actions.append(AcknowledgeMessage(message.at_s + delay_s, message.ref, party))
    actions.sort(key=lambda a: (a.time_s, _ORDER[type(a)]))
    return actions
