"""``keepclear ledger ...``: the shared record from the command line (its incidents: ``cli.incident``)."""

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
from keepclear.cli.output import write_output
from keepclear.domain.timefmt import parse_utc
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
from keepclear.ledger.note import parse_note
from keepclear.ledger.proofs import is_proof, verify_proof
from keepclear.services.hotline.service import HotlineService
from keepclear.services.record.signer import open_ledger
from keepclear.services.record.witness import witness
from keepclear.services.runtime.deployment import Deployment

#: A seq or tree size: at least 1, at most what the API takes (``2**62``; a store keeps 64 bits).
SIZE = click.IntRange(min=1, max=2**62)

#: Environment variable holding the passphrase that encrypts custodial keys at rest (optional).
PASSPHRASE_ENV = "KEEPCLEAR_LEDGER_KEY_PASSPHRASE"


def ledger_of(deployment: Deployment) -> Ledger:
    """The deployment's ledger, its custodial keys decrypted with ``PASSPHRASE_ENV``'s passphrase if set."""
    passphrase = os.environ.get(PASSPHRASE_ENV)
    return open_ledger(
        deployment.db,
        deployment.clock,
        deployment.settings.data_dir,
        passphrase=passphrase.encode("utf-8") if passphrase else None,
    )


def known_party(deployment: Deployment, party_id: str | None) -> None:
    """Refuse ``party_id`` (when given) unless it is a party of this deployment: a one-line "party
    'x' does not exist" (``NotFoundError``), never a proof, an export or a witness for a made-up id."""
    if party_id is not None:
        deployment.registry.party(party_id)


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
    """Write a self-contained export: entries, public keys, rotations, checkpoints (format version 3).
    The text is ``GET /v1/record/export``'s, streamed: the entries are read a chunk at a time."""
    deployment = ctx.open()
    try:
        known_party(deployment, party)
        text = ledger_of(deployment).export_text(for_party=party)
        write_output(output, text, f"{text.entries} entries")
    finally:
        deployment.close()


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
            raise KeepclearError(f"{since}: {earlier.summary()}")
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
    except (OSError, ValueError, RecursionError):
        return None
    return document if is_proof(document) else None


@ledger.command("head")
@pass_context
def ledger_head(ctx: CliContext) -> None:
    """Print the latest signed tree head (C2SP checkpoint note), then the deployment's verifier keys."""
    deployment = ctx.open()
    try:
        book = ledger_of(deployment)
        head = book.latest_head()
        vkeys = book.deployment_vkeys()
    finally:
        deployment.close()
    click.echo(head.note, nl=False)
    for key in vkeys:
        click.echo(f"vkey {key}", err=True)


@ledger.command("prove")
@click.argument("seq", type=SIZE)
@click.option("--size", type=SIZE, default=None, help="Tree size of a signed head (default: latest).")
@click.option("--party", default=None, help="Prove as this party: only entries whose payload it may read.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout)."
)
@pass_context
def ledger_prove(ctx: CliContext, seq: int, size: int | None, party: str | None, output: Path | None) -> None:
    """Inclusion proof of entry SEQ in a signed tree head (RFC 9162); check it with `ledger verify`."""
    deployment = ctx.open()
    try:
        known_party(deployment, party)
        document = ledger_of(deployment).inclusion_proof(seq, tree_size=size, for_party=party)
    finally:
        deployment.close()
    write_output(output, json.dumps(document, indent=1, ensure_ascii=False) + "\n", f"inclusion proof of entry {seq}")


@ledger.command("consistency")
@click.argument("old", type=SIZE)
@click.argument("new", type=SIZE, required=False)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout)."
)
@pass_context
def ledger_consistency(ctx: CliContext, old: int, new: int | None, output: Path | None) -> None:
    """Consistency proof from the signed head of size OLD to that of NEW (default: latest); RFC 9162."""
    deployment = ctx.open()
    try:
        document = ledger_of(deployment).consistency_proof(old, new)
    finally:
        deployment.close()
    write_output(output, json.dumps(document, indent=1, ensure_ascii=False) + "\n", "consistency proof")


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
        known_party(deployment, party_id)
        book = ledger_of(deployment)
        state = state or deployment.settings.data_dir / "witness" / f"{party_id}.head"
        last_seen = _last_seen(state)
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
@click.option("--size", type=SIZE, default=None, help="Tree size (default: the latest cosigned).")
@pass_context
def ledger_cosignatures(ctx: CliContext, size: int | None) -> None:
    """Show a signed head with every party's cosignature, and whether every party agreed to it."""
    deployment = ctx.open()
    try:
        head, lines = ledger_of(deployment).cosignatures(size)
        parties = [p.id for p in deployment.registry.parties()]
    finally:
        deployment.close()
    click.echo((head.note or "") + "".join(line + "\n" for line in lines.values()), nl=False)
    missing = [p for p in parties if p not in lines]
    click.echo(
        f"size {head.seq}: " + ("agreed by every party" if not missing else f"not cosigned by {', '.join(missing)}"),
        err=True,
    )


def _last_seen(state: Path) -> str | None:
    """The signed head the party saw last, kept in ``state`` (None: there is none yet)."""
    try:
        text = state.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise KeepclearError(f"{state}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise KeepclearError(f"{state}: not UTF-8 text, so not the signed head the party saw last") from None
    try:
        parse_note(text)
    except ValueError as exc:
        raise KeepclearError(
            f"{state}: not the signed head the party saw last ({exc}); restore it, or remove it to trust the"
            " latest head without a consistency check"
        ) from None
    return text


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
        checkpoint = ledger_of(deployment).checkpoint()
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
        known_party(deployment, party_id)
        key_id = ledger_of(deployment).register_public_key(party_id, public_key)
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
        key_id = ledger_of(deployment).rotate_key(owner, compromised=compromised, new_public_key=public_key)
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
