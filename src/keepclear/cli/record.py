"""``keepclear ledger ...`` and ``keepclear incident ...``: the shared record from the command line."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.cli.context import CliContext, pass_context
from keepclear.domain.incidents import ReviewStatus
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.errors import KeepclearError, ValidationError
from keepclear.ledger import (
    Ledger,
    extension_problem,
    key_id_of,
    load_export,
    public_key_b64,
    sign_submission,
    verify_document,
)
from keepclear.ledger.proofs import is_proof, verify_proof
from keepclear.services.hotline.service import HotlineService
from keepclear.services.incidents.metrics import compute_metrics
from keepclear.services.incidents.service import IncidentService
from keepclear.services.record.signer import open_ledger
from keepclear.services.record.witness import witness
from keepclear.services.reports.incident import incident_html
from keepclear.services.runtime.deployment import Deployment

#: Environment variable holding the passphrase that encrypts custodial keys at rest (optional).
PASSPHRASE_ENV = "KEEPCLEAR_LEDGER_KEY_PASSPHRASE"


def _ledger(deployment: Deployment) -> Ledger:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    return open_ledger(
        deployment.db,
        deployment.clock,
        deployment.settings.data_dir,
        passphrase=passphrase.encode("utf-8") if passphrase else None,
    )


def _incidents(deployment: Deployment) -> IncidentService:
    # No track history here: evidence is frozen by the service process, never empty by the CLI.
    return IncidentService(deployment.db, deployment.clock, deployment.bus, None)


def _write(output: Path | None, text: str, what: str) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise KeepclearError(f"{output}: cannot write ({exc.strerror})") from None
    click.echo(f"{what} written to {output}", err=True)


@click.group()
def ledger() -> None:
    """The signed, hash-chained record every party can verify offline."""


@ledger.command("export")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout)."
)
@click.option(
    "--party", default=None, help="Export for this party: an entry it may not read is a placeholder (seq and hash)."
)
@pass_context
def ledger_export(ctx: CliContext, output: Path | None, party: str | None) -> None:
    """Write a self-contained export: entries, public keys, rotations, checkpoints (format version 3)."""
    deployment = ctx.open()
    try:
        document = _ledger(deployment).export_document(for_party=party)
    finally:
        deployment.close()
    _write(output, json.dumps(document, indent=1, ensure_ascii=False) + "\n", f"{len(document['entries'])} entries")


@ledger.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--since",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="An earlier export you kept: FILE must extend it (nothing before its head rewritten).",
)
@click.option(
    "--vkey",
    "vkeys",
    multiple=True,
    help="Proof files: the deployment's published verifier key (from `keepclear ledger head`); repeatable.",
)
def ledger_verify(file: Path, since: Path | None, vkeys: tuple[str, ...]) -> None:
    """Check an export (every hash, signature, key rotation, checkpoint and signed tree head) or a
    proof file (inclusion or consistency), offline; exit 1 when bad."""
    document = _proof_or_none(file)
    if document is not None:
        proof = verify_proof(document, list(vkeys) if vkeys else None)
        if not proof.ok:
            raise KeepclearError(f"{file}: {proof.summary()}")
        click.echo(f"{file}: {proof.summary()}")
        return
    report = verify_document(load_export(file))
    if not report.ok:
        raise KeepclearError(f"{file}: {report.summary()}")
    if since is not None:
        earlier = verify_document(load_export(since))
        if not earlier.ok:
            raise KeepclearError(f"{file}: {earlier.summary()}")
        problem = extension_problem(earlier, report)
        if problem is not None:
            raise KeepclearError(f"{file}: BAD: does not extend {since}: {problem}")
    click.echo(f"{file}: {report.summary()}")
    if since is not None:
        click.echo(f"{file}: extends {since} (its {earlier.entries} entries unchanged)")


def _proof_or_none(file: Path) -> dict[str, Any] | None:
    """The proof document in ``file``, or None when it is not a proof file (then it is read as an export)."""
    try:
        document = json.loads(file.read_bytes())
    except (OSError, ValueError):
        return None
    return document if is_proof(document) else None


@ledger.command("head")
@pass_context
def ledger_head(ctx: CliContext) -> None:
    """Print the latest signed tree head (C2SP checkpoint note), then the deployment's verifier keys."""
    deployment = ctx.open()
    try:
        book = _ledger(deployment)
        head = book.latest_head()
        vkeys = book.deployment_vkeys()
    finally:
        deployment.close()
    click.echo(head.note, nl=False)
    for key in vkeys:
        click.echo(f"vkey {key}", err=True)


@ledger.command("prove")
@click.argument("seq", type=click.IntRange(min=1))
@click.option("--size", type=click.IntRange(min=1), default=None, help="Tree size of a signed head (default: latest).")
@click.option("--party", default=None, help="Prove as this party: only entries whose payload it may read.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout)."
)
@pass_context
def ledger_prove(ctx: CliContext, seq: int, size: int | None, party: str | None, output: Path | None) -> None:
    """Inclusion proof of entry SEQ in a signed tree head (RFC 9162); check it with `ledger verify`."""
    deployment = ctx.open()
    try:
        document = _ledger(deployment).inclusion_proof(seq, tree_size=size, for_party=party)
    finally:
        deployment.close()
    _write(output, json.dumps(document, indent=1, ensure_ascii=False) + "\n", f"inclusion proof of entry {seq}")


@ledger.command("consistency")
@click.argument("old", type=click.IntRange(min=1))
@click.argument("new", type=click.IntRange(min=1), required=False)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout)."
)
@pass_context
def ledger_consistency(ctx: CliContext, old: int, new: int | None, output: Path | None) -> None:
    """Consistency proof from the signed head of size OLD to that of NEW (default: latest); RFC 9162."""
    deployment = ctx.open()
    try:
        document = _ledger(deployment).consistency_proof(old, new)
    finally:
        deployment.close()
    _write(output, json.dumps(document, indent=1, ensure_ascii=False) + "\n", "consistency proof")


@ledger.command("witness")
@click.option("--party", "party_id", required=True, help="The witnessing party.")
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The party's private key (PEM; strong mode). Default: its custodial key, held by this deployment.",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File keeping the last head the party saw (default DATA_DIR/witness/PARTY.head).",
)
@pass_context
def ledger_witness(ctx: CliContext, party_id: str, key_file: Path | None, state: Path | None) -> None:
    """Check the latest signed head extends the last one PARTY saw, and cosign it; otherwise raise an
    alert on the hotline with both heads (exit 1)."""
    deployment = ctx.open()
    try:
        book = _ledger(deployment)
        state = state or deployment.settings.data_dir / "witness" / f"{party_id}.head"
        last_seen = state.read_text(encoding="utf-8") if state.exists() else None
        private_key = _load_key(key_file) if key_file is not None else book.custodial_key(party_id)
        others = [p.id for p in deployment.registry.parties()]
        hotline = HotlineService(deployment.db, deployment.clock, deployment.bus)
        outcome = witness(book, hotline, deployment.clock, party_id, private_key, last_seen, others)
    finally:
        deployment.close()
    if outcome.cosigned is None:
        raise KeepclearError(f"{party_id}: head of size {outcome.tree_size} refused: {outcome.problem} (alert raised)")
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(outcome.cosigned, encoding="utf-8")
    click.echo(f"{party_id}: cosigned the head of size {outcome.tree_size} (consistent with {state})")


@ledger.command("cosignatures")
@click.option("--size", type=click.IntRange(min=1), default=None, help="Tree size (default: the latest cosigned).")
@pass_context
def ledger_cosignatures(ctx: CliContext, size: int | None) -> None:
    """Show a signed head with every party's cosignature, and whether every party agreed to it."""
    deployment = ctx.open()
    try:
        head, lines = _ledger(deployment).cosignatures(size)
        parties = [p.id for p in deployment.registry.parties()]
    finally:
        deployment.close()
    click.echo((head.note or "") + "".join(line + "\n" for line in lines.values()), nl=False)
    missing = [p for p in parties if p not in lines]
    click.echo(
        f"size {head.seq}: " + ("agreed by every party" if not missing else f"not cosigned by {', '.join(missing)}"),
        err=True,
    )


def _load_key(key_file: Path) -> Ed25519PrivateKey:
    try:
        private_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except OSError as exc:
        raise KeepclearError(f"{key_file}: cannot read ({exc.strerror})") from None
    except (ValueError, TypeError) as exc:
        raise KeepclearError(f"{key_file}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise KeepclearError(f"{key_file}: not an Ed25519 key")
    return private_key


@ledger.command("checkpoint")
@pass_context
def ledger_checkpoint(ctx: CliContext) -> None:
    """Sign the current chain head with the deployment key now."""
    deployment = ctx.open()
    try:
        checkpoint = _ledger(deployment).checkpoint()
    finally:
        deployment.close()
    click.echo(
        "head already checkpointed"
        if checkpoint is None
        else f"checkpoint at seq {checkpoint.seq}: {checkpoint.head_hash}"
    )


@ledger.command("register-key")
@click.argument("party_id")
@click.argument("public_key")
@pass_context
def ledger_register_key(ctx: CliContext, party_id: str, public_key: str) -> None:
    """Put PARTY_ID in strong mode with its own Ed25519 PUBLIC_KEY (raw 32 bytes, base64)."""
    deployment = ctx.open()
    try:
        key_id = _ledger(deployment).register_public_key(party_id, public_key)
    finally:
        deployment.close()
    click.echo(f"{party_id}: strong mode, key {key_id}")


@ledger.command("rotate")
@click.argument("owner")
@click.option("--compromised", is_flag=True, help="The old key is compromised: the deployment signs the rotation.")
@click.option("--public-key", default=None, help="New public key of a strong-mode party (base64).")
@pass_context
def ledger_rotate(ctx: CliContext, owner: str, compromised: bool, public_key: str | None) -> None:
    """Rotate the key of OWNER (a party id, or @deployment); recorded in the ledger."""
    deployment = ctx.open()
    try:
        key_id = _ledger(deployment).rotate_key(owner, compromised=compromised, new_public_key=public_key)
    finally:
        deployment.close()
    click.echo(f"{owner}: new key {key_id}")


@ledger.command("keygen")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Private key file to create (PEM, mode 0600).",
)
def ledger_keygen(output: Path) -> None:
    """Strong mode, party side: make a key pair; prints the public key to register with the deployment."""
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeepclearError(f"{output}: cannot create ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    click.echo(f"{key_id_of(private_key.public_key())} {public_key_b64(private_key.public_key())}")


@ledger.command("sign")
@click.option(
    "--key", "key_file", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Private key file (PEM)."
)
@click.option("--party", required=True, help="The signing party.")
@click.option("--kind", required=True, help="Entry kind, e.g. activity.objected.")
@click.option("--payload", default="{}", show_default=True, help="Payload as JSON text.")
@click.option("--audience", default=None, help="Comma-separated parties who may read the payload (default: all).")
@click.option("--time", "time_text", default=None, help="Statement time (ISO 8601 UTC; default now).")
def ledger_sign(
    key_file: Path, party: str, kind: str, payload: str, audience: str | None, time_text: str | None
) -> None:
    """Strong mode, party side: sign a submission offline and print it (JSON) for the API."""
    private_key = _load_key(key_file)
    try:
        value = json.loads(payload)
        time_s = time.time() if time_text is None else parse_utc(time_text, "--time")
    except ValueError as exc:
        raise ValidationError(
            [f"--payload: not JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else str(exc)]
        ) from None
    members = [a for a in audience.split(",") if a] if audience else None
    try:
        submission = sign_submission(private_key, party, kind, value, time_s=time_s, audience=members)
    except ValueError as exc:
        raise ValidationError([f"--payload: {exc}"]) from None
    click.echo(json.dumps(submission.to_json(), ensure_ascii=False))


@click.group()
def incident() -> None:
    """Incidents: what happened, its evidence, each party's account, the joint review."""


@incident.command("list")
@click.option("--party", default=None, help="Only incidents this party is involved in.")
@pass_context
def incident_list(ctx: CliContext, party: str | None) -> None:
    """List incidents: id, time, kind, status, parties, summary."""
    deployment = ctx.open()
    try:
        for i in _incidents(deployment).list(party_id=party):
            click.echo(
                f"{i.id}\t{format_utc(i.time_s)}\t{i.kind.value}\t{i.status.value}\t{','.join(i.parties)}\t{i.summary}"
            )
    finally:
        deployment.close()


@incident.command("show")
@click.argument("incident_id")
@pass_context
def incident_show(ctx: CliContext, incident_id: str) -> None:
    """Show one incident, its timeline and its accounts."""
    deployment = ctx.open()
    try:
        service = _incidents(deployment)
        i = service.get(incident_id)
        click.echo(f"incident {i.id}: {i.kind.value}, {i.status.value}, at {format_utc(i.time_s)}")
        click.echo(
            f"parties: {', '.join(i.parties)}; units: {', '.join(i.unit_ids) or '-'}; alerts: {', '.join(i.alert_ids) or '-'}"
        )
        click.echo(f"summary: {i.summary}")
        click.echo(f"evidence: {i.evidence_sha256 or 'not frozen yet'}")
        for t in service.timeline(incident_id):
            click.echo(f"  {format_utc(t.time_s)}\t{t.kind}\t{t.party_id or '-'}")
        for a in service.accounts(incident_id):
            amends = f" (amends #{a.amends})" if a.amends is not None else ""
            click.echo(f"account #{a.position} by {a.party_id}{amends} at {format_utc(a.time_s)}:\n  {a.text}")
    finally:
        deployment.close()


@incident.command("report")
@click.argument("incident_id")
@click.option(
    "-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write into."
)
@click.option("--lang", "language", default="en", show_default=True, help="Language of the report (en, ru).")
@pass_context
def incident_report(ctx: CliContext, incident_id: str, output_dir: Path, language: str) -> None:
    """Write INCIDENT_ID's report as one self-contained HTML file (map figure, timeline, accounts)."""
    deployment = ctx.open()
    try:
        service = _incidents(deployment)
        i = service.get(incident_id)
        text = incident_html(
            i,
            service.accounts(incident_id),
            service.timeline(incident_id),
            service.evidence(incident_id),
            generated_s=deployment.clock.now_s(),
            language=language,
        )
    finally:
        deployment.close()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeepclearError(f"{output_dir}: cannot create ({exc.strerror})") from None
    _write(output_dir / f"incident-{incident_id}.html", text, "report")


@incident.command("review")
@click.argument("incident_id")
@click.argument("status", type=click.Choice([s.value for s in ReviewStatus]))
@click.option("--party", default=None, help="The party moving the review (default: the operator).")
@click.option("--note", default="", help="Why.")
@pass_context
def incident_review(ctx: CliContext, incident_id: str, status: str, party: str | None, note: str) -> None:
    """Move the review status of INCIDENT_ID."""
    deployment = ctx.open()
    try:
        _incidents(deployment).set_review(incident_id, ReviewStatus(status), by_party=party, note=note)
    finally:
        deployment.close()
    click.echo(f"{incident_id}: {status}")


@incident.command("metrics")
@click.option("--from", "from_text", required=True, help="Start of the period (ISO 8601 UTC, included).")
@click.option("--to", "to_text", required=True, help="End of the period (ISO 8601 UTC, excluded).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout)."
)
@pass_context
def incident_metrics(ctx: CliContext, from_text: str, to_text: str, fmt: str, output: Path | None) -> None:
    """Metrics of a period from the ledger: incidents by kind, line crossings, acknowledgement delays, escalations."""
    try:
        from_s, until_s = parse_utc(from_text, "--from"), parse_utc(to_text, "--to")
    except ValueError as exc:
        raise ValidationError([str(exc)]) from None
    if until_s <= from_s:
        raise ValidationError(["--to: must be after --from"])
    deployment = ctx.open()
    try:
        entries = _ledger(deployment).entries(from_s=from_s, until_s=until_s)
    finally:
        deployment.close()
    metrics = compute_metrics(entries, from_s, until_s)
    text = json.dumps(metrics.to_json(), indent=2) + "\n" if fmt == "json" else metrics.to_csv()
    _write(output, text, "metrics")
