"""Play a scenario into a real, embedded deployment: the engine of ``keepclear replay`` and ``keepclear demo``.

``ScenarioRun`` opens (or is given) a deployment whose clock is a ``ManualClock`` at the scenario's
start, installs the scenario's world, and wires the ``ScenarioDriver`` to the services: tracks go
through the same ingest as a feed, scripted activities through ``ActivityService.notify``, scripted
hotline traffic through ``HotlineService.post`` (one thread per scenario thread), acknowledgements at
their delays. Every step moves the clock and runs a ``Runtime.tick``, so detection sees the world
at least every ``max_step_s`` of scenario time whatever the speed. An ``EventLog`` keeps every event
for the after-action report. Deterministic for a seed, ids included: a replay draws the ids it makes
up (alerts, incidents, hotline threads, activities) from sources seeded by the scenario's seed
(``domain.ids.seeded_bits``), where a live service draws them from the operating system.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keepclear.domain import TrackReport
from keepclear.domain.events import Event, EventKind
from keepclear.domain.hotline import Draft, MessageKind, PhraseUse
from keepclear.domain.ids import seeded_bits
from keepclear.geo.activity_doc import activity_from_document
from keepclear.scenario import (
    DriverConfig,
    DriverProgress,
    Scenario,
    ScenarioDriver,
    ScriptedMessage,
    ScriptPlayer,
    Simulator,
    SinkTransport,
)
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.runtime import Runtime
from keepclear.services.runtime.scenario import install_scenario
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.settings import Settings, load_settings


@dataclass(frozen=True)
class ScenarioRunConfig:
    """How a scenario is played into a deployment.

    ``speed``: scenario seconds per wall second (1..1000), None: as fast as possible.
    ``max_step_s``: longest stretch of scenario time between two detection ticks (5 s).
    ``tick_s``: wall seconds between paced steps (0.25 s).
    ``message_ack_within_s``: the acknowledgement deadline asked of recipients of a scripted message
    that lists acknowledgements (15 min), so hotline escalation is exercised like the activities'.
    ``person``: the name scripted posts are signed with.
    ``min_notice_s``: see ``runtime_config``.
    """

    speed: float | None = None
    max_step_s: float = 5.0
    tick_s: float = 0.25
    message_ack_within_s: float = 900.0
    person: str = "scenario script"
    min_notice_s: float = 1800.0

    def runtime_config(self, settings: Settings) -> RuntimeConfig:
        """The deployment's runtime configuration with the scenario's default notice for activities.

        A scenario plays hours, not days: an activity kind without its own rule needs ``min_notice_s``
        (30 min) instead of the service's 24 h; kinds with their own rule (humanitarian movements, 48 h)
        and zones keep theirs, so a late convoy is still flagged.
        """
        base = RuntimeConfig.from_settings(settings)
        strategic = dataclasses.replace(base.activities.strategic, default_min_notice_s=self.min_notice_s)
        return dataclasses.replace(base, activities=dataclasses.replace(base.activities, strategic=strategic))

    def driver_config(self) -> DriverConfig:
        """The driver's part of this configuration (validated there)."""
        return DriverConfig(speed=self.speed, max_step_s=self.max_step_s, tick_s=self.tick_s)


class EventLog:
    """Every event the deployment's bus carries, in order (thread-safe: the demo's server emits too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    def events(self, *kinds: EventKind | Iterable[EventKind]) -> list[Event]:
        """The events so far, only those of ``kinds`` (kinds or sets of them, such as ``ALERT_KINDS``) when given."""
        wanted = {k for group in kinds for k in ((group,) if isinstance(group, EventKind) else group)}
        with self._lock:
            return [e for e in self._events if not wanted or e.kind in wanted]


def open_scenario_deployment(scenario: Scenario, settings: Settings) -> tuple[Deployment, ManualClock]:
    """A fresh deployment for ``settings`` on a manual clock at the scenario start, with the world installed."""
    clock = ManualClock(scenario.start_s)
    deployment = Deployment.open(settings, clock=clock, create=True)
    install_scenario(deployment, scenario)
    return deployment, clock


def _message_id(thread_id: str, seq: int) -> str:
    return f"{thread_id}#{seq}"


def _split_message_id(message_id: str) -> tuple[str, int]:
    thread_id, _, seq = message_id.rpartition("#")
    return thread_id, int(seq)


class ScenarioRun:
    """One scenario played into one deployment (see the module docstring).

    Build with ``ScenarioRun.create(scenario, data_dir)`` for a replay; the demo builds the deployment
    with ``open_scenario_deployment`` and passes the runtime its HTTP app made, so both share one clock.
    """

    def __init__(
        self,
        scenario: Scenario,
        deployment: Deployment,
        clock: ManualClock,
        runtime: Runtime,
        config: ScenarioRunConfig | None = None,
    ) -> None:
        self.scenario = scenario
        self.deployment = deployment
        self.clock = clock
        self.runtime = runtime
        self.config = config or ScenarioRunConfig()
        self.log = EventLog()
        deployment.bus.subscribe(self.log)
        self.simulator = Simulator(scenario)
        self.player = ScriptPlayer(self._notify, self._acknowledge_activity, self._post, self._acknowledge_message)
        self.driver = ScenarioDriver(
            self.simulator, SinkTransport(self._ingest), self.player, self.config.driver_config(), self._on_time
        )
        self.rejected_reports = 0
        #: activity id → when it was notified; message id → (sender, when posted): for the report.
        self.notified_s: dict[str, float] = {}
        self.posted: dict[str, tuple[str, float]] = {}

    @classmethod
    def create(
        cls,
        scenario: Scenario,
        data_dir: Path,
        *,
        settings: Settings | None = None,
        config: ScenarioRunConfig | None = None,
        seed: int | None = None,
    ) -> ScenarioRun:
        """A fresh embedded deployment in ``data_dir`` (which must not hold one yet), ready to play;
        the ids it makes up drawn from the scenario's seed (the simulator's own draws are another
        generator, so seeding these changes none of them)."""
        if seed is not None:
            scenario = dataclasses.replace(scenario, seed=seed)
        settings = settings or load_settings(data_dir=data_dir)
        config = config or ScenarioRunConfig()
        deployment, clock = open_scenario_deployment(scenario, settings)
        runtime = Runtime(deployment, config.runtime_config(settings), id_bits=seeded_bits(scenario.seed))
        return cls(scenario, deployment, clock, runtime, config)

    def run(
        self, progress: Callable[[DriverProgress], None] | None = None, stop: threading.Event | None = None
    ) -> DriverProgress:
        """Play to the end (or until ``stop``), then one last tick at the end time.

        While it plays, the clock's ``rate`` is the pace (0 when as fast as possible: clients then
        follow it by reading it again), and 0 once it stands still at the end.
        """
        self.clock.rate = self.config.speed or 0.0
        try:
            final = self.driver.run(progress=progress, stop=stop)
        finally:
            self.clock.rate = 0.0
        self._on_time(final.time_s)
        return final

    def close(self) -> None:
        """Release the deployment (the runtime's thread, if any, is the caller's)."""
        self.deployment.close()

    # -- what the driver calls --------------------------------------------------------------------

    def _on_time(self, time_s: float) -> None:
        # Reports of the step arrive after this call; they are drained by the next step's tick.
        self.clock.set(max(time_s, self.clock.now_s()))
        self.runtime.tick(time_s)

    def _ingest(self, party_id: str, reports: Sequence[TrackReport]) -> None:
        result = self.runtime.ingest.submit(ReportColumns.from_reports(list(reports)), party_id)
        self.rejected_reports += len(result.refused)

    def _notify(self, party_id: str, body: Mapping[str, Any]) -> str:
        activity = activity_from_document(dict(body), party_id=party_id)
        activity_id = self.runtime.activities.notify(activity).activity.id
        self.notified_s[activity_id] = self.clock.now_s()
        return activity_id

    def _acknowledge_activity(self, party_id: str, activity_id: str) -> None:
        version = self.runtime.activities.get(activity_id).activity.version
        self.runtime.activities.acknowledge(activity_id, version, party_id)

    def _post(self, message: ScriptedMessage, thread_id: str | None, reply_to_id: str | None) -> tuple[str, str]:
        hotline = self.runtime.hotline
        if thread_id is None:
            thread_id = hotline.create_thread(message.from_party, list(message.to_parties), message.thread).id
        reply_to_seq = None if reply_to_id is None else _split_message_id(reply_to_id)[1]
        phrase = None
        if message.phrase is not None:
            phrase = PhraseUse(message.phrase, {k: str(v) for k, v in message.params.items()})
        wants_ack = any(delay is not None for delay in message.acks.values()) or bool(message.acks)
        draft = Draft(
            thread_id=thread_id,
            kind=MessageKind.REPLY if reply_to_seq is not None else MessageKind.TEXT,
            idempotency_key=f"scenario-{self.scenario.id}-{message.ref}",
            body=message.text or "",
            phrase=phrase,
            reply_to_seq=reply_to_seq,
            ack_within_s=self.config.message_ack_within_s if wants_ack else None,
        )
        stored, _ = hotline.post(message.from_party, self.config.person, draft)
        message_id = _message_id(thread_id, stored.seq)
        self.posted[message_id] = (message.from_party, stored.time_s)
        return message_id, thread_id

    def _acknowledge_message(self, party_id: str, message_id: str) -> None:
        thread_id, seq = _split_message_id(message_id)
        draft = Draft(
            thread_id=thread_id,
            kind=MessageKind.ACKNOWLEDGEMENT,
            idempotency_key=f"scenario-{self.scenario.id}-ack-{thread_id}.{seq}-{party_id}",
            reply_to_seq=seq,
        )
        self.runtime.hotline.post(party_id, self.config.person, draft)
