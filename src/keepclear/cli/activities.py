"""``keepclear activity notify / amend / show / list / ack / object / activate / complete / cancel / deadlines``.

Activity files are YAML (JSON is valid YAML, so JSON files work too); the format is in
``docs/activities.md`` and ``keepclear.geo.activity_doc``. Times are ISO 8601 strings with a
zone: YAML's own timestamp type is switched off so a time is never silently re-zoned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import yaml

from keepclear.cli.context import CliContext, pass_context
from keepclear.domain.json_input import TOO_MANY_DIGITS, value_problems
from keepclear.domain.limits import DEFAULT_LIMITS, InputLimits, one_line_text
from keepclear.domain.timefmt import format_utc
from keepclear.errors import KeepclearError, ValidationError
from keepclear.geo.activity_doc import activities_from_documents, activity_from_document, batch_documents
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.service import ActivityService
from keepclear.services.activities.views import notifier_conflict, notifier_view, view_for
from keepclear.services.runtime.config import RuntimeConfig

#: Activities ``activity list`` reads at a time (each page a fixed number of statements).
LIST_PAGE_ITEMS = 500


class _NoTimestampLoader(yaml.SafeLoader):
    """SafeLoader that leaves times as text (parsed, with their zone, by ``parse_utc``)."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_activity_file(file: Path, limits: InputLimits = DEFAULT_LIMITS) -> Any:
    """The document in a YAML or JSON file; a syntax error names the line. Its values are held to the
    rules of a request body (``domain.json_input``: depth, strings, numbers), each problem named."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeepclearError(f"{file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeepclearError(f"{file}: not UTF-8 text") from None
    try:
        document = yaml.load(text, Loader=_NoTimestampLoader)
    except RecursionError:
        raise ValidationError([f"{file}: nested deeper than {limits.max_json_depth} levels"]) from None
    except ValueError:  # yaml's int() of more digits than Python converts (4,300)
        raise ValidationError([f"{file}: {TOO_MANY_DIGITS}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise ValidationError([f"{file}: not valid YAML or JSON{where}: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ValidationError([f"{file}: not valid YAML or JSON: {exc}"]) from None
    problems = value_problems(document, limits)
    if problems:
        raise ValidationError([f"{file}: {problem}" for problem in problems])
    return document


def _most(ctx: CliContext) -> int:
    """The conflicts a notification's answer prints (``activity_event_max_conflicts``)."""
    return ctx.settings.activity_event_max_conflicts


@contextmanager
def _service(ctx: CliContext) -> Iterator[ActivityService]:
    deployment = ctx.open()
    try:
        yield ActivityService(
            deployment.db, deployment.clock, deployment.bus, RuntimeConfig.from_settings(ctx.settings).activities
        )
    finally:
        deployment.close()


def _conflict_line(view: dict[str, Any]) -> str:
    """One conflict as the notifier reads it (``notifier_conflict``'s view), on one line."""
    return f"conflict {view['kind']} with {view['target_id']} {view['start']}..{view['end']}: {view['reason']}"


def _print_result(result: NotifyResult, most: int) -> None:
    """What a notification or amendment found: at most ``most`` conflicts (as many as its
    ``activity.conflict`` event holds), then how many more and the command that lists every one."""
    activity = result.activity
    click.echo(
        f"{activity.id} version {activity.version} {activity.status.value};"
        f" addressees: {', '.join(sorted(result.addressees)) or 'none'}"
    )
    late = result.check.late_notice
    if late is not None:
        click.echo(f"late notice: {late.given_s / 3600:.1f} h given, {late.required_s / 3600:g} h required")
    found = result.check.conflicts
    for conflict in found[:most]:
        click.echo(_conflict_line(notifier_conflict(activity.id, activity.version, conflict)))
    if len(found) > most:
        click.echo(
            f"… and {len(found) - most} more ({len(found)} in all):"
            f" keepclear activity conflicts {activity.id} --party {activity.party_id}"
        )
    if not found:
        click.echo("no conflicts")


@click.group()
def activity() -> None:
    """Strategic deconfliction: notified activities, acknowledgements, conflicts."""


_party_option = click.option("--party", "party_id", required=True, help="The party acting (notifier or addressee).")
_version_option = click.option("--version", "version", type=int, required=True, help="The version being changed.")


@activity.command("notify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_party_option
@click.option("--draft", is_flag=True, help="Store as a draft (checked and delivered when notified).")
@pass_context
def activity_notify(ctx: CliContext, file: Path, party_id: str, draft: bool) -> None:
    """Notify the activity in FILE (YAML or JSON) on behalf of --party.

    A FILE holding a list of activities (or ``activities:`` and the list, the body of
    POST /v1/activities/batch) notifies them all or none, as one batch."""
    document = read_activity_file(file, ctx.settings.input_limits())
    batch = batch_documents(document)
    if batch is not None:
        if draft:
            raise ValidationError([f"{file}: --draft stores one activity; this file holds a batch"])
        activities = activities_from_documents(
            batch, party_id=party_id, max_problems_listed=ctx.settings.max_problems_listed
        )
        with _service(ctx) as service:
            for result in service.notify_many(activities):
                _print_result(result, _most(ctx))
        return
    activity_ = activity_from_document(document, party_id=party_id)
    with _service(ctx) as service:
        if draft:
            stored = service.draft(activity_)
            click.echo(f"{stored.id} version 1 draft")
        else:
            _print_result(service.notify(activity_), _most(ctx))


@activity.command("amend")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_party_option
@_version_option
@click.option("--id", "activity_id", default=None, help="The activity (default: the id in FILE).")
@pass_context
def activity_amend(ctx: CliContext, file: Path, party_id: str, version: int, activity_id: str | None) -> None:
    """Replace --version of an activity by the content of FILE (a new version)."""
    activity_ = activity_from_document(
        read_activity_file(file, ctx.settings.input_limits()), party_id=party_id, activity_id=activity_id
    )
    if not activity_.id:
        raise ValidationError(["id: say which activity to amend (in the file or with --id)"])
    with _service(ctx) as service:
        _print_result(service.amend(activity_, version), _most(ctx))


@activity.command("show")
@click.argument("activity_id")
@click.option("--party", "party_id", default=None, help="Show what this party may see (default: everything).")
@pass_context
def activity_show(ctx: CliContext, activity_id: str, party_id: str | None) -> None:
    """Show an activity as JSON: its state, acknowledgements, conflicts, escalations."""
    with _service(ctx) as service:
        state = service.get(activity_id, party_id)
        if party_id is None:
            view: dict[str, Any] | None = notifier_view(state)
        else:
            view = view_for(state, party_id, service.overlaps_of(party_id, [activity_id]))
    if view is None:
        raise KeepclearError(f"activity {activity_id!r} does not exist for {party_id}")
    click.echo(json.dumps(view, indent=2))


@activity.command("conflicts")
@click.argument("activity_id")
@click.option("--party", "party_id", required=True, help="The activity's party (only it reads what its check found).")
@pass_context
def activity_conflicts(ctx: CliContext, activity_id: str, party_id: str) -> None:
    """List every conflict the check of an activity's current version found, as found (the rest of
    what ``notify`` printed; GET /v1/activities/{id}/conflicts)."""
    with _service(ctx) as service:
        after: int | None = None
        while True:  # in pages: however many the check found
            page = service.conflicts_page(party_id, activity_id, after, LIST_PAGE_ITEMS)
            for _, stored in page.conflicts:
                click.echo(_conflict_line(notifier_conflict(stored.activity_id, stored.version, stored.conflict)))
            if not page.more or not page.conflicts:
                return
            after = page.conflicts[-1][0]


@activity.command("list")
@click.option("--party", "party_id", default=None, help="Only what this party may see.")
@pass_context
def activity_list(ctx: CliContext, party_id: str | None) -> None:
    """List activities: id, version, status, party, kind, window, acknowledgement count."""
    with _service(ctx) as service:
        after: str | None = None
        while True:  # in pages: a bounded number of statements each, not one read per activity
            page = service.page(party_id, after, LIST_PAGE_ITEMS)
            for state in page.states:
                item = state.activity
                view = view_for(state, party_id, page.overlaps) if party_id is not None else None
                if party_id is not None and view is None:
                    continue
                acked = sum(1 for a in state.acks if a.state != "pending")
                # The conflicts its check found: the notifier's to see (an addressee's state holds none).
                conflicts = f"\tconflicts {state.conflicts.total}" if view is None or "conflicts" in view else ""
                overlapped = (
                    f"\toverlapped {view['overlapped_by_total']}" if view and "overlapped_by_total" in view else ""
                )
                click.echo(
                    f"{item.id}\tv{item.version}\t{item.status.value}\t{item.party_id}\t{item.kind.value}"
                    f"\t{format_utc(item.start_s)}..{format_utc(item.end_s)}\tanswered {acked}/{len(state.acks)}"
                    f"{conflicts}{overlapped}"
                )
            if not page.more or not page.states:
                return
            after = page.states[-1].activity.id


def _change(name: str, call: Callable[[ActivityService, str, int, str], object], help_text: str) -> None:
    @activity.command(name, help=help_text)
    @click.argument("activity_id")
    @_party_option
    @_version_option
    @pass_context
    def command(ctx: CliContext, activity_id: str, party_id: str, version: int) -> None:
        with _service(ctx) as service:
            call(service, activity_id, version, party_id)
        click.echo(f"{activity_id} version {version}: {name} by {party_id}")


_change("ack", lambda s, a, v, p: s.acknowledge(a, v, p), "Acknowledge receipt of a version (an addressee).")
_change("activate", lambda s, a, v, p: s.activate(a, v, p), "Report the activity under way (the notifier).")
_change("complete", lambda s, a, v, p: s.complete(a, v, p), "Report the activity over (the notifier).")
_change("notify-draft", lambda s, a, v, p: s.notify_draft(a, v, p), "Notify a stored draft (the notifier).")


@activity.command("object")
@click.argument("activity_id")
@_party_option
@_version_option
@click.option("--reason", required=True, help="Why the addressee objects.")
@pass_context
def activity_object(ctx: CliContext, activity_id: str, party_id: str, version: int, reason: str) -> None:
    """Object to a version (an addressee), with a reason."""
    with _service(ctx) as service:
        service.object(activity_id, version, party_id, reason)
    click.echo(f"{activity_id} version {version}: objected by {party_id}")


@activity.command("cancel")
@click.argument("activity_id")
@_party_option
@_version_option
@click.option("--reason", default="", help="Why (told to the addressees).")
@pass_context
def activity_cancel(ctx: CliContext, activity_id: str, party_id: str, version: int, reason: str) -> None:
    """Cancel an activity (the notifier)."""
    with _service(ctx) as service:
        service.cancel(activity_id, version, party_id, reason)
    click.echo(f"{activity_id} version {version}: cancelled by {party_id}")


@activity.command("deadlines")
@pass_context
def activity_deadlines(ctx: CliContext) -> None:
    """Escalate every overdue acknowledgement once (the service does this continuously)."""
    with _service(ctx) as service:
        steps = service.run_deadlines()
    for step in steps:
        contact = one_line_text(step.contact_name) if step.contact_name else "roster exhausted"
        click.echo(f"{step.activity_id} v{step.version}: {step.party_id} escalated to level {step.level}: {contact}")
    click.echo(f"{len(steps)} escalations")
