"""The tlog-witness protocol: another implementation's request script replayed, heso's client
and server round trip over loopback, rollbacks and forks refused, state that survives restarts
and SIGKILL, and a state directory edited behind the witness's back."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from heso.errors import TransparencyError, WitnessError
from heso.keys import PublicKey, SigningKey
from heso.transparency.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from heso.transparency.cosignature import CosignatureSigner, CosignatureVerifier
from heso.transparency.hash_store import MemoryHashStore
from heso.transparency.note import Ed25519Signer, Ed25519Verifier, open_note, parse_note
from heso.transparency.proof import ConsistencyProof
from heso.transparency.tree import MerkleTree
from heso.transparency.vkey import parse_vkey
from heso.transparency.witness import Witness, origin_hash
from heso.transparency.witness_client import (
    WitnessClient,
    add_cosignatures,
    request_cosignature,
)
from heso.transparency.witness_server import make_server

DATA = Path(__file__).parent / "data"
ORIGIN = "example.com/heso-log"


class Log:
    """A heso-style log: entries in a Merkle tree, checkpoints signed by its operator key."""

    def __init__(self, origin: str = ORIGIN, seed: int = 1) -> None:
        self.origin = origin
        self.tree = MerkleTree(MemoryHashStore())
        self.signer = Ed25519Signer(origin, SigningKey.from_private_bytes(bytes([seed]) * 32))

    def add(self, n: int, tag: str = "entry") -> None:
        start = self.tree.size
        self.tree.extend(f'{{"{tag}":{i}}}'.encode() for i in range(start, start + n))

    def checkpoint(self, size: int | None = None) -> bytes:
        size = self.tree.size if size is None else size
        return sign_checkpoint(Checkpoint(self.origin, size, self.tree.root(size)), self.signer)

    def prove(self, old: int, new: int) -> list[bytes]:
        return self.tree.consistency_proof(old, new)


def witness_signer(name: str = "auditor.example/witness", now: int = 1_700_000_000) -> Any:
    return CosignatureSigner(name, SigningKey.from_private_bytes(b"\x42" * 32), clock=lambda: now)


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def witness(tmp_path: Path, log: Log) -> Iterator[Witness]:
    with Witness(witness_signer(), {ORIGIN: [log.signer.verifier()]}, tmp_path / "w") as w:
        yield w


@pytest.fixture
def served(witness: Witness) -> Iterator[str]:
    server = make_server(witness, "127.0.0.1", 0, prefix="/witness")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/witness"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def body(old: int, proof: list[bytes], checkpoint: bytes) -> bytes:
    return ConsistencyProof(old, tuple(proof), checkpoint).to_bytes()


def status_of(witness: Witness, request: bytes) -> int:
    try:
        witness.add_checkpoint(request)
    except WitnessError as exc:
        return exc.status or 0
    return 200


# -- another implementation's script --------------------------------------------------------


def test_replays_litewitness_add_checkpoint_script(tmp_path: Path) -> None:
    """The requests litewitness (Go) answers in its own tests get the same answers here. One
    differs on purpose: a checkpoint of an unknown log gets 404 as tlog-witness specifies
    (that litewitness version answered 403)."""
    script = json.loads((DATA / "litewitness-add-checkpoint.json").read_text("utf-8"))
    key = PublicKey.from_bytes(bytes.fromhex(script["log_public_key_hex"]))
    origin = script["log_origin"]
    assert origin == "sigsum.org/v1/tree/" + hashlib.sha256(key.raw).hexdigest()
    signer = witness_signer(script["witness_name"])
    with Witness(signer, {origin: [Ed25519Verifier(origin, key)]}, tmp_path / "w") as w:
        for step in script["steps"]:
            want = step["status"]
            if "unknown log" in step["assert"]:
                want = 404
            request = step["body"].encode()
            try:
                answer = w.add_checkpoint(request)
            except WitnessError as exc:
                assert exc.status == want, (step, exc)
                if want == 409:
                    assert step["assert"] == f'body == "{exc.latest_size}\\n"'
                continue
            assert want == 200, step
            cp = ConsistencyProof.from_bytes(request).checkpoint
            cosigned = add_cosignatures(cp, parse_note(cp.decode() + answer.decode()).signatures)
            verified = open_checkpoint(
                cosigned,
                [Ed25519Verifier(origin, key)],
                witnesses=[signer.verifier()],
                threshold=1,
            )
            assert step["assert"] == 'body contains "\u2014 example.com/witness"'
            assert answer.decode().startswith("\u2014 example.com/witness ")
            assert verified.cosignatures[0].timestamp == 1_700_000_000


# -- the protocol's rules -------------------------------------------------------------------


def test_status_codes_follow_the_spec(witness: Witness, log: Log) -> None:
    log.add(5)
    cp5 = log.checkpoint()
    assert status_of(witness, body(0, [], cp5)) == 200
    log.add(3)
    cp8 = log.checkpoint()
    proof = log.prove(5, 8)
    other = Log("example.com/other-log", seed=2)
    other.add(1)
    stranger = Log(ORIGIN, seed=3)  # the right origin, another key
    stranger.add(8)
    cases = {
        b"not a request": 400,
        body(5, proof, b"no checkpoint here\n"): 400,
        body(9, [], cp8): 400,  # old size beyond the checkpoint
        body(0, [], other.checkpoint()): 404,
        body(5, proof, stranger.checkpoint()): 403,
        body(5, proof, cp8.replace(b"\n8\n", b"\n9\n")): 403,  # signature no longer verifies
        body(3, log.prove(3, 8), cp8): 409,
        body(0, [], cp8): 409,
        body(5, [], cp8): 422,
        body(5, [proof[0], *proof], cp8): 422,
        body(5, proof[::-1], cp8): 422,
        body(5, [b"\x00" * 32], log.checkpoint(5)): 422,  # same size needs an empty proof
    }
    for request, want in cases.items():
        assert status_of(witness, request) == want, (request[:60], want)
    with pytest.raises(WitnessError) as conflict:
        witness.add_checkpoint(body(0, [], cp8))
    assert conflict.value.latest_size == 5
    assert status_of(witness, body(5, proof, cp8)) == 200
    assert status_of(witness, body(8, [], cp8)) == 200  # the same checkpoint again is fine


def test_size_zero_rules(witness: Witness, log: Log) -> None:
    empty = log.checkpoint(0)
    bad_root = sign_checkpoint(Checkpoint(ORIGIN, 0, b"\x01" * 32), log.signer)
    assert status_of(witness, body(0, [], bad_root)) == 422
    assert status_of(witness, body(0, [b"\x00" * 32], empty)) == 422
    assert status_of(witness, body(0, [], empty)) == 200
    log.add(2)
    assert status_of(witness, body(0, [b"\x00" * 32], log.checkpoint())) == 422
    assert status_of(witness, body(0, [], log.checkpoint())) == 200


def test_a_rewritten_or_rolled_back_log_is_refused(witness: Witness, log: Log) -> None:
    """What witnesses are for: the operator rewrites history (or rolls it back) and signs
    a fresh checkpoint with its own key; the witness will not cosign it."""
    log.add(20)
    assert status_of(witness, body(0, [], log.checkpoint())) == 200
    forged = Log(ORIGIN, seed=1)  # same origin, same operator key
    forged.add(20, tag="rewritten")
    forged.add(10)
    cp = forged.checkpoint()
    assert status_of(witness, body(20, forged.prove(20, 30), cp)) == 422
    # Same size, another root: a fork.
    assert status_of(witness, body(20, [], forged.checkpoint(20))) == 422
    # A rollback to an earlier size.
    assert status_of(witness, body(10, log.prove(10, 20), log.checkpoint(10))) == 409
    assert status_of(witness, body(20, [], log.checkpoint(10))) == 400
    # The honest log keeps going.
    log.add(5)
    assert status_of(witness, body(20, log.prove(20, 25), log.checkpoint())) == 200


def test_concurrent_requests_never_roll_the_state_back(witness: Witness, log: Log) -> None:
    log.add(10)
    assert status_of(witness, body(0, [], log.checkpoint())) == 200
    log.add(16)
    requests = [body(10, log.prove(10, s), log.checkpoint(s)) for s in range(11, 27)]
    results: list[int] = []
    barrier = threading.Barrier(len(requests))

    def submit(request: bytes) -> None:
        barrier.wait()
        results.append(status_of(witness, request))

    threads = [threading.Thread(target=submit, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * 15
    latest = witness.latest_checkpoint(origin_hash(ORIGIN))
    size = Checkpoint.from_text(parse_note(latest).text).size
    assert 11 <= size <= 26
    assert status_of(witness, body(size, log.prove(size, 26), log.checkpoint(26))) == 200


def test_state_survives_a_restart_and_is_served(tmp_path: Path, log: Log) -> None:
    keys = {ORIGIN: [log.signer.verifier()]}
    log.add(7)
    with Witness(witness_signer(), keys, tmp_path / "w") as w:
        assert status_of(w, body(0, [], log.checkpoint())) == 200
        with pytest.raises(TransparencyError, match="another witness"):
            Witness(witness_signer(), keys, tmp_path / "w")
    with Witness(witness_signer(now=1_600_000_000), keys, tmp_path / "w") as w:
        with pytest.raises(WitnessError) as conflict:
            w.add_checkpoint(body(0, [], log.checkpoint()))
        assert conflict.value.latest_size == 7
        stored = w.latest_checkpoint(origin_hash(ORIGIN))
        log.add(1)
        answer = w.add_checkpoint(body(7, log.prove(7, 8), log.checkpoint()))
    # The served checkpoint carries the log's signature and the witness's cosignature.
    opened = open_note(stored, [log.signer.verifier(), witness_signer().verifier()])
    assert len(opened.verified) == 2
    # Cosignature times never go backwards, even when the clock does.
    sig = parse_note(log.checkpoint().decode() + "\n" + answer.decode()).signatures[-1]
    assert CosignatureVerifier.timestamp(sig.signature) == 1_700_000_000


def test_a_state_file_edited_behind_the_witness_fails_closed(tmp_path: Path, log: Log) -> None:
    keys = {ORIGIN: [log.signer.verifier()]}
    log.add(30)
    with Witness(witness_signer(), keys, tmp_path / "w") as w:
        assert status_of(w, body(0, [], log.checkpoint())) == 200
    state = tmp_path / "w" / "logs" / origin_hash(ORIGIN)
    # Roll the state back to size 3 with the log's own signature (the operator can do that);
    # it lacks the witness's cosignature, so the witness refuses to go on from it.
    state.write_bytes(log.checkpoint(3))
    with Witness(witness_signer(), keys, tmp_path / "w") as w:
        assert status_of(w, body(3, log.prove(3, 30), log.checkpoint())) == 500
        with pytest.raises(WitnessError, match="does not verify"):
            w.latest_checkpoint(origin_hash(ORIGIN))
    state.write_bytes(b"garbage")
    with Witness(witness_signer(), keys, tmp_path / "w") as w:
        assert status_of(w, body(0, [], log.checkpoint())) == 500


def test_a_failed_write_cosigns_nothing(
    witness: Witness, log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.add(4)
    assert status_of(witness, body(0, [], log.checkpoint())) == 200

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("heso.durable.write_private", full_disk)
    log.add(4)
    with pytest.raises(WitnessError, match="not cosigned") as refused:
        witness.add_checkpoint(body(4, log.prove(4, 8), log.checkpoint()))
    assert refused.value.status == 500
    monkeypatch.undo()
    with pytest.raises(WitnessError) as conflict:
        witness.add_checkpoint(body(8, [], log.checkpoint()))
    assert conflict.value.latest_size == 4


# -- heso's client and server over loopback -------------------------------------------------


def test_client_and_server_round_trip(served: str, log: Log) -> None:
    key = witness_signer().verifier()
    client = WitnessClient(served, key)
    try:
        log.add(3)
        cp = log.checkpoint()
        sig = request_cosignature(client, cp, log.prove)
        cosigned = add_cosignatures(cp, [sig])
        verified = open_checkpoint(
            cosigned, [log.signer.verifier()], origin=ORIGIN, witnesses=[key], threshold=1
        )
        assert verified.checkpoint.size == 3
        # The client does not know the witness's size: the 409 tells it, and it retries.
        log.add(100)
        sig = request_cosignature(client, log.checkpoint(), log.prove, known_size=0)
        open_checkpoint(
            add_cosignatures(log.checkpoint(), [sig]), [log.signer.verifier()],
            witnesses=[key], threshold=1,
        )  # fmt: skip
        # A rolled-back log is named as such.
        with pytest.raises(WitnessError, match="rolled back or forked") as rollback:
            request_cosignature(client, log.checkpoint(50), log.prove, known_size=0)
        assert rollback.value.latest_size == 103
        # A rewritten log is refused by the witness (422), with its reason.
        forged = Log(ORIGIN, seed=1)
        forged.add(110, tag="rewritten")
        with pytest.raises(WitnessError, match="consistency") as refused:
            request_cosignature(client, forged.checkpoint(), forged.prove, known_size=103)
        assert refused.value.status == 422
    finally:
        client.close()


def test_http_details(served: str, log: Log) -> None:
    log.add(2)
    port = int(served.split(":")[2].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        # One kept-alive connection serves several requests.
        for old, want in ((0, 200), (0, 409)):
            conn.request("POST", "/witness/add-checkpoint", body(old, [], log.checkpoint()))
            r = conn.getresponse()
            data = r.read()
            assert r.status == want
        assert r.getheader("Content-Type") == "text/x.tlog.size" and data == b"2\n"
        conn.request("GET", f"/witness/{origin_hash(ORIGIN)}/checkpoint")
        r = conn.getresponse()
        assert r.status == 200 and r.read().startswith(log.checkpoint().split(b"\n\n")[0])
        for method, path, want in (
            ("GET", f"/witness/{'0' * 64}/checkpoint", 404),
            ("GET", "/witness/add-checkpoint", 404),
            ("POST", "/other", 404),
        ):
            conn.request(method, path, b"" if method == "POST" else None)
            r = conn.getresponse()
            r.read()
            assert r.status == want, path
    finally:
        conn.close()
    raw = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        raw.putrequest("POST", "/witness/add-checkpoint")
        raw.endheaders()
        assert raw.getresponse().status == 411
    finally:
        raw.close()
    big = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        big.putrequest("POST", "/witness/add-checkpoint")
        big.putheader("Content-Length", str(10 * 1024 * 1024))
        big.endheaders()
        assert big.getresponse().status == 413
    finally:
        big.close()


def test_client_rejects_a_witness_that_answers_badly(log: Log) -> None:
    key = witness_signer().verifier()
    log.add(1)
    answers: list[tuple[int, bytes]] = []

    class Fake(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            status, data = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = WitnessClient(f"http://127.0.0.1:{server.server_address[1]}", key)
    good = witness_signer().sign(parse_note(log.checkpoint()).text.encode())
    try:
        for answer, problem in [
            ((200, b""), "malformed answer"),
            ((200, _line(key, good)[:-1]), "malformed"),  # no final newline
            ((200, _line(key, good[:8] + bytes(64))), "does not verify"),
            ((200, _line(key, bytes(8) + good[8:])), "does not verify"),
            ((200, _line(CosignatureVerifier("other", key.public_key), good)), "without"),
            ((409, b"abc\n"), "malformed 409"),
            ((503, b"busy"), "refused \\(503\\): busy"),
        ]:
            answers.append(answer)
            with pytest.raises(WitnessError, match=problem):
                client.add_checkpoint(log.checkpoint(), 0, [])
        answers.append((200, _line(key, good)))
        assert client.add_checkpoint(log.checkpoint(), 0, []).signature == good
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join()
    with pytest.raises(WitnessError, match="unreachable"):
        WitnessClient("http://127.0.0.1:1", key, timeout=2).add_checkpoint(log.checkpoint(), 0, [])
    with pytest.raises(TransparencyError, match="http"):
        WitnessClient("ftp://example/", key)


def _line(key: CosignatureVerifier, sig: bytes) -> bytes:
    blob = key.key_id.to_bytes(4, "big") + sig
    return f"\u2014 {key.name} {base64.b64encode(blob).decode()}\n".encode()


# -- the runnable server, killed mid-run ----------------------------------------------------


def test_the_server_entry_survives_sigkill(tmp_path: Path, log: Log) -> None:
    config = tmp_path / "witness.toml"
    config.write_text(
        f"""
name = "auditor.example/witness"
key_file = "witness.key"
state_dir = "state"
listen = "127.0.0.1:0"

[[log]]
origin = "{ORIGIN}"
keys = ["{log.signer.verifier().vkey()}"]
""",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "HESO_KEY_PASSPHRASE": "witness passphrase",
        "HESO_KDF_PROFILE": "interactive",
    }
    serve = [sys.executable, "-m", "heso.transparency.witness_server", "--config", str(config)]

    def start(*extra: str) -> tuple[subprocess.Popen[str], str, CosignatureVerifier]:
        proc = subprocess.Popen(
            [*serve, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        vkey = proc.stdout.readline().split()[-1]
        url = proc.stdout.readline().split()[2]
        key = parse_vkey(vkey)
        assert isinstance(key, CosignatureVerifier)
        return proc, url, key

    proc, url, key = start("--init-key")
    acknowledged = 0
    try:
        client = WitnessClient(url, key)
        for _ in range(5):
            log.add(3)
            request_cosignature(client, log.checkpoint(), log.prove, known_size=acknowledged)
            acknowledged = log.tree.size
        client.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    proc, url, key2 = start()
    try:
        assert key2.vkey() == key.vkey()
        client = WitnessClient(url, key)
        with pytest.raises(WitnessError) as conflict:
            client.add_checkpoint(log.checkpoint(), 0, [])
        assert conflict.value.latest_size == acknowledged == 15
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert not list((tmp_path / "state" / "logs").glob(".*.tmp"))
    # Wrong passphrase or a broken config: a clear error and exit 2, no traceback.
    bad = subprocess.run(
        serve,
        capture_output=True,
        text=True,
        env={**env, "HESO_KEY_PASSPHRASE": "wrong"},
        timeout=60,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "witness.key" in bad.stderr
    config.write_text('name = "w"\n[[log]]\norigin = "o"\nkeys = ["not a vkey"]\n')
    bad = subprocess.run(
        serve,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2 and "witness.toml:4" in bad.stderr, bad.stderr
