"""Witnessing from the console in a real browser: the latest signed head, whether the party cosigned
it, the client-side consistency check before cosigning, and the alarm when history was rewritten."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from consolesupport import Service, running_service, shot, sign_in
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.ledger.keys import public_key_b64
from keepclear.ledger.model import DEPLOYMENT
from keepclear.ledger.note import parse_note
from keepclear.ledger.witnessing import witness_name
from keepclear.services.hotline.service import HotlineService
from keepclear.services.record.witness import INCONSISTENT_KIND
from keepclear.store import ledger as store


def _new_entries_and_refresh(service: Service, n: int, text: str, author: str = "a") -> None:
    """Append ``n`` entries of ``author`` (a custodial party: the deployment signs for it), then open an
    incident so the Record panel reloads (incident.opened)."""
    for i in range(n):
        service.runtime.ledger.append("message.posted", author, {"text": f"{text} {i}"}, audience=["a", "b"])
    service.runtime.incidents.report("a", time_s=time.time() - 60, summary=text, unit_ids=["ua"], parties=["b"])


def test_a_liaison_checks_and_cosigns_heads_and_a_rewritten_log_raises_the_alarm(
    service: Service, pages: dict[str, Any]
) -> None:
    a = pages["a"]
    sign_in(a, service.url, service.keys["a-liaison"])
    a.click("#tab-record")
    a.locator("#witness-ours[data-cosigned=false]").wait_for(timeout=10_000)
    assert "waiting for" in a.inner_text("#witness-agreed")
    first = int(a.get_attribute("#witness-head", "data-size") or 0)
    a.click("#witness-cosign")
    a.locator("#witness-message", has_text=f"head of size {first} (the first").wait_for(timeout=10_000)
    assert "a" in service.runtime.ledger.cosignatures(first)[1]

    # More entries: a new head, which the console checks against the one it cosigned, then cosigns.
    _new_entries_and_refresh(service, 5, "more")
    a.locator(f"#witness-head:not([data-size='{first}'])").wait_for(timeout=10_000)
    a.click("#witness-cosign")  # (the head may grow meanwhile: what was cosigned is in the message)
    message = a.locator("#witness-message", has_text=f"it extends the head of size {first}")
    message.wait_for(timeout=10_000)
    cosigned = re.search(r"head of size (\d+):", message.inner_text())
    assert cosigned is not None
    seen = int(cosigned.group(1))
    assert seen > first
    assert "a" in service.runtime.ledger.cosignatures(seen)[1]
    assert f"size {seen}" in a.inner_text("#witness-last")
    shot(a, "12-record-witness")

    # The operator rewrites history after the first head and signs a longer one.
    db = service.deployment.db
    with db.write() as conn:
        hashes = store.leaf_hashes(conn, 1)
        conn.execute(store.ledger_entries.delete().where(store.ledger_entries.c.seq > first))
        conn.execute(store.ledger_checkpoints.delete().where(store.ledger_checkpoints.c.seq > first))
        conn.execute(store.ledger_cosignatures.delete())
        conn.execute(store.ledger_head.update().values(seq=first, hash=hashes[first - 1], checkpoint_seq=first))
        conn.execute(store.ledger_keys.delete().where(store.ledger_keys.c.from_seq > first))
    _new_entries_and_refresh(service, seen - first + 3, "rewritten")
    a.locator(f"#witness-head:not([data-size='{seen}'])").wait_for(timeout=10_000)
    a.click("#witness-cosign")
    alarm = a.locator("#witness-alarm")
    alarm.wait_for(timeout=10_000)
    assert "RECORD INCONSISTENT" in alarm.inner_text() and f"signed head of size {seen}" in alarm.inner_text()
    shot(a, "13-record-witness-alarm")
    latest = service.runtime.ledger.latest_head().seq
    assert "a" not in service.runtime.ledger.cosignatures(latest)[1]
    hotline = HotlineService(db, service.deployment.clock, service.deployment.bus)
    bodies = [m.body for t in hotline.threads_of("b") for m in hotline.messages("b", t.id)]
    assert any("RECORD INCONSISTENT, seen by a" in body and f"\n{seen}\n" in body for body in bodies)
    assert any(e.statement.kind == INCONSISTENT_KIND for e in service.runtime.ledger.entries())


def test_a_strong_mode_party_cosigns_in_the_browser_with_its_own_key_and_accepts_a_new_log_key(
    service: Service, pages: dict[str, Any]
) -> None:
    ledger = service.runtime.ledger
    private_key = Ed25519PrivateKey.generate()
    public = public_key_b64(private_key.public_key())
    if ledger.mode("a") is None:
        ledger.register_public_key("a", public)
    else:  # a cosigned custodially earlier in this module: the operator records a's own key out of band
        ledger.rotate_key("a", compromised=True, new_public_key=public)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    a = pages["a"]  # (a reads English)
    sign_in(a, service.url, service.keys["a-liaison"])
    a.click("#tab-record")
    a.set_input_files(
        "#witness-key-file", files=[{"name": "a.pem", "mimeType": "application/x-pem-file", "buffer": b"junk"}]
    )
    a.locator("#witness-message", has_text="not our party's key").wait_for(timeout=10_000)
    a.set_input_files(
        "#witness-key-file", files=[{"name": "a.pem", "mimeType": "application/x-pem-file", "buffer": pem}]
    )
    a.locator("#witness-forget-key").wait_for(timeout=10_000)
    _new_entries_and_refresh(service, 2, "strong", author="b")
    a.locator("#witness-ours[data-cosigned=false]").wait_for(timeout=10_000)
    a.click("#witness-cosign")
    a.locator("#witness-message", has_text="(the first").wait_for(timeout=10_000)
    first = int(re.findall(r"size (\d+)", a.inner_text("#witness-message"))[0])
    head, lines = ledger.cosignatures(first)
    assert "a" in lines and head.note is not None
    # The line is a's own: it verifies with a's public key, which the deployment never held privately.
    cosigned = parse_note(head.note + lines["a"] + "\n")
    assert cosigned.cosigned_by(witness_name("a"), private_key.public_key()) is not None

    # The key stays in this browser (IndexedDB, not extractable) across a reload.
    a.reload()
    # The reloaded page's stream is live only from its hello on: an event before it is never sent to
    # it (no Last-Event-ID yet), and the panel would wait for one that does not come.
    a.wait_for_selector("body[data-live=live]", timeout=30_000)
    a.click("#tab-record")
    a.locator("#witness-forget-key").wait_for(timeout=10_000)

    # The deployment rotates its log key: the next head is signed by a key this console never saw. That
    # is no inconsistency, but nothing is cosigned until a liaison accepts the key by its fingerprint.
    ledger.rotate_key(DEPLOYMENT)
    _new_entries_and_refresh(service, 2, "rotated", author="b")
    a.locator(f"#witness-head:not([data-size='{first}'])").wait_for(timeout=10_000)
    a.click("#witness-cosign")
    a.locator("#witness-message", has_text="does not know").wait_for(timeout=10_000)
    assert a.locator("#witness-alarm").count() == 0
    size = int(a.get_attribute("#witness-head", "data-size") or 0)
    assert "a" not in ledger.cosignatures(size)[1]
    a.click("#witness-accept-key")
    a.locator("#witness-message", has_text=f"it extends the head of size {first}").wait_for(timeout=10_000)
    assert len(re.findall(r"\+[0-9a-f]{8}", a.inner_text("#witness-log-keys"))) == 2
    shot(a, "14-record-witness-own-key")
    assert a.errors == []


def test_an_alarm_past_the_partys_rate_is_shown_as_not_sent_yet_and_not_retried(browser: Any, tmp_path: Path) -> None:
    """An alarm is a report to every party (``incident_reports_per_party_per_s``): past the party's
    burst the deployment refuses it (429, nothing stored) and the console says the alert could not be
    sent yet and when to try again, once, without sending it again by itself."""
    with running_service(tmp_path / "data", incident_report_burst=1) as service:
        context = browser.new_context()
        try:
            a = context.new_page()
            errors: list[str] = []
            a.on("pageerror", lambda error: errors.append(str(error)))
            reports: list[str] = []
            a.on("request", lambda r: reports.append(r.url) if r.url.endswith("/v1/record/inconsistency") else None)
            sign_in(a, service.url, service.keys["a-liaison"])
            a.click("#tab-record")
            a.click("#witness-cosign")
            a.locator("#witness-message", has_text="(the first").wait_for(timeout=10_000)

            def seen_from_another_log() -> None:
                """The head this console saw last becomes one of another log: the next check fails."""
                a.evaluate(
                    """() => { const k = Object.keys(localStorage).find((n) => n.startsWith("keepclear.witness."));
                    const last = JSON.parse(localStorage.getItem(k));
                    last.note = last.note.replace(/^[^\\n]*/, "other.example/log" + Math.random());
                    localStorage.setItem(k, JSON.stringify(last)); }"""
                )
                size = a.get_attribute("#witness-head", "data-size")
                _new_entries_and_refresh(service, 1, "more")
                a.locator(f"#witness-head:not([data-size='{size}'])").wait_for(timeout=10_000)
                a.click("#witness-cosign")

            seen_from_another_log()
            a.locator("#witness-alarm", has_text="has been alerted").wait_for(timeout=10_000)
            seen_from_another_log()  # another alarm: the party's burst (1) is used up
            alarm = a.locator("#witness-alarm", has_text="could not be sent yet")
            alarm.wait_for(timeout=10_000)
            assert re.search(r"again in [1-6]?[0-9] s", alarm.inner_text()), alarm.inner_text()
            time.sleep(1.0)
            assert len(reports) == 2, reports  # one request a click: no retry loop
            alarms = [e for e in service.runtime.ledger.entries() if e.statement.kind == INCONSISTENT_KIND]
            assert len(alarms) == 1
            assert errors == []
        finally:
            context.close()
