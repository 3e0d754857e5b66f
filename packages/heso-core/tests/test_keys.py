"""Keys: Ed25519 sign/verify, text forms, encrypted key files, passphrases, the operator key."""

from __future__ import annotations

import base64
import copy
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nacl.pwhash import argon2id

from heso import keys
from heso.errors import HesoConfigError, KeyDecryptionError
from heso.keys import (
    DEV_PASSPHRASE_FILE,
    OPERATOR_KEY_FILE,
    PublicKey,
    SigningKey,
    approver_key_dir,
    ensure_operator_key,
    key_file_requires_passphrase,
    load_operator_key,
    read_key_file,
    read_public_key,
    resolve_passphrase,
    write_key_file,
)
from heso.keys.primitives import base58btc

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")

PASSPHRASE = b"correct horse battery staple"
INTERACTIVE = (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE)
MODERATE = (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE)

# RFC 8032 section 7.1, TEST 1.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HESO_KEY_PASSPHRASE", "HESO_ENV", "HESO_APPROVER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "project" / "heso-local-data"


def seed_forms(seed: bytes) -> list[str]:
    """Every text form a leaked seed is likely to take."""
    b64 = base64.b64encode(seed).decode()
    return [
        seed.hex(),
        seed.hex().upper(),
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(seed).decode().rstrip("="),
        base58btc(seed),
    ]


def assert_no_seed(text: str, seed: bytes) -> None:
    for form in seed_forms(seed):
        assert form not in text


def assert_no_seed_in_files(root: Path, seed: bytes) -> None:
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert seed not in data
        assert_no_seed(data.decode("latin-1"), seed)


def tamper(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --- base58btc and did:key -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ""),
        (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
        (
            b"The quick brown fox jumps over the lazy dog.",
            "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z",
        ),
        (bytes.fromhex("0000287fb4cd"), "11233QC4"),
        (b"\0", "1"),
    ],
)
def test_base58btc_known_vectors(data: bytes, expected: str) -> None:
    assert base58btc(data) == expected


@pytest.mark.parametrize(
    ("seed_hex", "did"),
    [
        # w3c-ccg/did-method-key test-vectors/ed25519-x25519.json
        ("00" * 32, "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"),
        ("00" * 31 + "01", "z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG"),
    ],
)
def test_did_key_matches_spec_vectors(seed_hex: str, did: str) -> None:
    key = SigningKey.from_private_bytes(bytes.fromhex(seed_hex))
    assert key.public_key().did_key() == did


def test_did_key_of_raw_public_key() -> None:
    raw = base64.urlsafe_b64decode("o66-89hEaBUt3MpZGq1HYnn41MeYj1PqXWRkPiSQAUo=")
    assert PublicKey.from_bytes(raw).did_key() == "z6MkqUD3eHHNAqjsobXUGRMvrV6cFVcHQdvhLQedUfMtZSTs"


# --- PublicKey --------------------------------------------------------------------------------


def test_public_key_text_round_trip() -> None:
    public = PublicKey.from_bytes(RFC8032_PUBLIC)
    text = public.to_str()
    assert text == "ed25519:" + RFC8032_PUBLIC.hex()
    assert PublicKey.from_str(text) == public
    assert public.raw == RFC8032_PUBLIC
    assert str(public) == text
    assert text in repr(public)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (RFC8032_PUBLIC.hex(), "does not start with 'ed25519:'"),
        ("ED25519:" + RFC8032_PUBLIC.hex(), "does not start with 'ed25519:'"),
        ("ed25519:" + RFC8032_PUBLIC.hex().upper(), "lowercase hex"),
        ("ed25519:" + RFC8032_PUBLIC.hex()[:-2], "62 characters"),
        ("ed25519:" + RFC8032_PUBLIC.hex() + "00", "66 characters"),
        ("ed25519:" + "g" * 64, "lowercase hex"),
        ("ed25519:" + RFC8032_PUBLIC.hex() + "\n", "65 characters"),
        ("", "does not start with 'ed25519:'"),
    ],
)
def test_public_key_from_str_rejects_malformed_text(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="expected 'ed25519:<64 lowercase hex>'") as info:
        PublicKey.from_str(text)
    assert problem in str(info.value)


def test_public_key_from_str_never_echoes_its_input() -> None:
    secret_hex = RFC8032_SEED.hex()
    with pytest.raises(ValueError) as info:
        PublicKey.from_str(secret_hex)
    assert_no_seed(str(info.value), RFC8032_SEED)


def test_public_key_rejects_wrong_types_and_lengths() -> None:
    with pytest.raises(TypeError):
        PublicKey.from_str(RFC8032_PUBLIC)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PublicKey.from_bytes(RFC8032_PUBLIC.hex())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32 bytes, got 31"):
        PublicKey.from_bytes(RFC8032_PUBLIC[:31])


def test_public_key_equality_hash_and_pickle() -> None:
    a = PublicKey.from_bytes(RFC8032_PUBLIC)
    b = PublicKey.from_str("ed25519:" + RFC8032_PUBLIC.hex())
    other = SigningKey.generate().public_key()
    assert a == b
    assert hash(a) == hash(b)
    assert a != other
    assert a != RFC8032_PUBLIC
    assert len({a, b, other}) == 2
    assert pickle.loads(pickle.dumps(a)) == a


# --- SigningKey -------------------------------------------------------------------------------


def test_rfc8032_vector() -> None:
    key = SigningKey.from_private_bytes(RFC8032_SEED)
    assert key.public_key().raw == RFC8032_PUBLIC
    assert key.sign(b"") == RFC8032_SIGNATURE
    assert PublicKey.from_bytes(RFC8032_PUBLIC).verify(RFC8032_SIGNATURE, b"")


def test_sign_verify_round_trip_and_flipped_bits_fail() -> None:
    key = SigningKey.generate()
    public = key.public_key()
    data = b"an action receipt"
    signature = key.sign(data)
    assert len(signature) == 64
    assert public.verify(signature, data)
    for index in (0, 31, 63):
        flipped = bytearray(signature)
        flipped[index] ^= 0x01
        assert not public.verify(bytes(flipped), data)
    assert not public.verify(signature, b"an action receipT")
    assert not public.verify(signature, data + b"\0")
    assert not SigningKey.generate().public_key().verify(signature, data)


def test_verify_agrees_with_pynacl_on_edge_cases() -> None:
    """PublicKey.verify calls libsodium's crypto_sign_open directly: the same answers as
    nacl.signing, including non-canonical S and small-order keys or R."""
    import nacl.exceptions
    import nacl.signing

    order = 2**252 + 27742317777372353535851937790883648493  # the group order L
    key = SigningKey.generate()
    data = b"receipt"
    good = key.sign(data)
    s = int.from_bytes(good[32:], "little")
    identity = bytes([1]) + bytes(31)  # the neutral element, a small-order point
    signatures = [
        good,
        good[:32] + (s + order).to_bytes(32, "little"),  # S not reduced
        identity + good[32:],  # small-order R
        bytes(64),
    ]
    for raw_key in (key.public_key().raw, identity, bytes(32), b"\xff" * 32):
        for signature in signatures:
            try:
                nacl.signing.VerifyKey(raw_key).verify(data, signature)
                expected = True
            except (nacl.exceptions.BadSignatureError, ValueError):
                expected = False
            assert PublicKey.from_bytes(raw_key).verify(signature, data) is expected
    assert key.public_key().verify(good, data)


@pytest.mark.parametrize(
    ("signature", "data"),
    [
        (b"", b"x"),
        (b"\0" * 63, b"x"),
        (b"\0" * 65, b"x"),
        (b"\0" * 64, b"x"),
        ("00" * 64, b"x"),
        (None, b"x"),
        (b"\0" * 64, "x"),
    ],
)
def test_verify_returns_false_on_garbage_without_raising(signature: Any, data: Any) -> None:
    assert SigningKey.generate().public_key().verify(signature, data) is False


def test_public_key_is_cached() -> None:
    key = SigningKey.generate()
    assert key.public_key() is key.public_key()


def test_from_private_bytes_validates_without_echoing() -> None:
    with pytest.raises(ValueError, match="32 bytes, got 31") as info:
        SigningKey.from_private_bytes(RFC8032_SEED[:31])
    assert_no_seed(str(info.value), RFC8032_SEED[:31])
    with pytest.raises(TypeError):
        SigningKey.from_private_bytes(RFC8032_SEED.hex())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SigningKey(RFC8032_SEED)  # type: ignore[arg-type]


def test_private_bytes_unsafe_returns_the_seed() -> None:
    assert SigningKey.from_private_bytes(RFC8032_SEED).private_bytes_unsafe() == RFC8032_SEED


def test_repr_and_str_show_only_the_public_key() -> None:
    key = SigningKey.from_private_bytes(RFC8032_SEED)
    for text in (repr(key), str(key), f"{key}", f"{key!r}"):
        assert "ed25519:" + RFC8032_PUBLIC.hex() in text
        assert_no_seed(text, RFC8032_SEED)


def test_signing_key_cannot_be_pickled_or_introspected_by_accident() -> None:
    key = SigningKey.from_private_bytes(RFC8032_SEED)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(key, protocol=protocol)
    with pytest.raises(TypeError):
        key.__reduce__()
    with pytest.raises(TypeError):
        key.__getstate__()
    with pytest.raises(TypeError):
        vars(key)
    with pytest.raises(TypeError):
        bytes(key)  # type: ignore[call-overload]
    assert copy.copy(key) is key
    assert copy.deepcopy({"k": key})["k"] is key


# --- key files ---------------------------------------------------------------------------------


def test_key_file_round_trip(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "k.key"
    write_key_file(path, key, PASSPHRASE)
    loaded = read_key_file(path, PASSPHRASE)
    assert loaded.public_key() == key.public_key()
    assert loaded.private_bytes_unsafe() == key.private_bytes_unsafe()
    assert read_public_key(path) == key.public_key()
    assert key_file_requires_passphrase(path) is False

    document = json.loads(path.read_text())
    assert document["version"] == keys.KEY_FILE_VERSION
    assert document["role"] == "operator"
    assert document["public_key"] == key.public_key().to_str()
    assert document["kdf"]["name"] == "argon2id"
    assert len(base64.b64decode(document["kdf"]["salt"])) == argon2id.SALTBYTES
    assert document["cipher"]["name"] == "xsalsa20-poly1305"
    assert document["require_passphrase"] is False


def test_each_write_uses_a_fresh_salt_and_nonce(tmp_path: Path) -> None:
    key = SigningKey.generate()
    write_key_file(tmp_path / "a.key", key, PASSPHRASE)
    write_key_file(tmp_path / "b.key", key, PASSPHRASE)
    a = json.loads((tmp_path / "a.key").read_text())
    b = json.loads((tmp_path / "b.key").read_text())
    assert a["kdf"]["salt"] != b["kdf"]["salt"]
    assert a["cipher"]["nonce"] != b["cipher"]["nonce"]
    assert a["cipher"]["ciphertext"] != b["cipher"]["ciphertext"]


def test_moderate_profile_file_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HESO_KDF_PROFILE")
    key = SigningKey.generate()
    path = tmp_path / "moderate.key"
    write_key_file(path, key, PASSPHRASE)
    kdf = json.loads(path.read_text())["kdf"]
    assert (kdf["opslimit"], kdf["memlimit"]) == MODERATE
    monkeypatch.setenv("HESO_KDF_PROFILE", "interactive")
    assert read_key_file(path, PASSPHRASE).public_key() == key.public_key()


def test_kdf_profile_env_and_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = SigningKey.generate()
    write_key_file(tmp_path / "env.key", key, PASSPHRASE)
    kdf = json.loads((tmp_path / "env.key").read_text())["kdf"]
    assert (kdf["opslimit"], kdf["memlimit"]) == INTERACTIVE

    monkeypatch.setenv("HESO_KDF_PROFILE", "moderate")
    write_key_file(tmp_path / "arg.key", key, PASSPHRASE, kdf_profile="interactive")
    kdf = json.loads((tmp_path / "arg.key").read_text())["kdf"]
    assert (kdf["opslimit"], kdf["memlimit"]) == INTERACTIVE
    # The parameters come from the file, not from the environment.
    assert read_key_file(tmp_path / "arg.key", PASSPHRASE).public_key() == key.public_key()


def test_unknown_kdf_profile_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = SigningKey.generate()
    with pytest.raises(ValueError, match="unknown KDF profile"):
        write_key_file(tmp_path / "k.key", key, PASSPHRASE, kdf_profile="fast")
    monkeypatch.setenv("HESO_KDF_PROFILE", "fast")
    with pytest.raises(HesoConfigError, match="HESO_KDF_PROFILE") as info:
        write_key_file(tmp_path / "k.key", key, PASSPHRASE)
    assert info.value.key == "HESO_KDF_PROFILE"
    assert not (tmp_path / "k.key").exists()


def test_approver_role_round_trip(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "alice.key"
    write_key_file(path, key, PASSPHRASE, role="approver")
    assert json.loads(path.read_text())["role"] == "approver"
    assert read_key_file(path, PASSPHRASE).public_key() == key.public_key()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"role": "admin"}, ValueError),
        ({"passphrase": b""}, ValueError),
        ({"passphrase": "text"}, TypeError),
        ({"key": b"\0" * 32}, TypeError),
    ],
)
def test_write_key_file_rejects_bad_arguments(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    arguments: dict[str, Any] = {"key": SigningKey.generate(), "passphrase": PASSPHRASE}
    arguments.update(kwargs)
    role = arguments.pop("role", "operator")
    with pytest.raises(error):
        write_key_file(tmp_path / "k.key", arguments["key"], arguments["passphrase"], role=role)
    assert not (tmp_path / "k.key").exists()


@posix_only
def test_key_file_is_0600_and_new_parent_dir_0700(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "k.key"
    old_umask = os.umask(0)
    try:
        write_key_file(path, SigningKey.generate(), PASSPHRASE)
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["k.key"]


@posix_only
def test_key_file_mode_is_set_at_creation_not_by_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("chmod must not be needed")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(os, "fchmod", no_chmod)
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    assert mode(path) == 0o600


def test_write_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    second = SigningKey.generate()
    write_key_file(path, second, b"another passphrase")
    assert read_key_file(path, b"another passphrase").public_key() == second.public_key()
    assert [p.name for p in tmp_path.iterdir()] == ["k.key"]


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError(28, "No space left on device")])
def test_interrupted_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException | type
) -> None:
    path = tmp_path / "k.key"
    original = SigningKey.generate()
    write_key_file(path, original, PASSPHRASE)
    before = path.read_bytes()

    def crash(fd: int) -> None:
        raise failure  # type: ignore[misc]

    monkeypatch.setattr(os, "fsync", crash)
    expected = KeyboardInterrupt if failure is KeyboardInterrupt else HesoConfigError
    with pytest.raises(expected):
        write_key_file(path, SigningKey.generate(), PASSPHRASE)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["k.key"]
    assert read_key_file(path, PASSPHRASE).public_key() == original.public_key()


def test_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    wrong = b"not the passphrase 1234"
    with pytest.raises(KeyDecryptionError) as info:
        read_key_file(path, wrong)
    message = str(info.value)
    assert str(path) in message
    assert "wrong passphrase" in message
    assert "check the passphrase" in message
    assert wrong.decode() not in message
    assert PASSPHRASE.decode() not in message


def test_decryption_error_leaves_no_secrets_in_traceback_locals(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    wrong = b"a wrong passphrase to look for"
    with pytest.raises(KeyDecryptionError) as info:
        read_key_file(path, wrong)
    frames = 0
    tb = info.value.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("heso.keys"):
            frames += 1
            for value in tb.tb_frame.f_locals.values():
                assert wrong not in repr(value).encode()
        tb = tb.tb_next
    assert frames >= 1
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


def _flip_ciphertext(document: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(document["cipher"]["ciphertext"]))
    raw[5] ^= 0x80
    document["cipher"]["ciphertext"] = base64.b64encode(bytes(raw)).decode()


def _flip_nonce(document: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(document["cipher"]["nonce"]))
    raw[0] ^= 0x01
    document["cipher"]["nonce"] = base64.b64encode(bytes(raw)).decode()


def _swap_public_key(document: dict[str, Any]) -> None:
    document["public_key"] = SigningKey.generate().public_key().to_str()


def _new_salt(document: dict[str, Any]) -> None:
    document["kdf"]["salt"] = base64.b64encode(b"\x01" * argon2id.SALTBYTES).decode()


def _set(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, value = path_and_value

    def change(document: dict[str, Any]) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change",
    [
        _flip_ciphertext,
        _flip_nonce,
        _swap_public_key,
        _new_salt,
        _set("require_passphrase", True),
        _set("role", "approver"),
        _set("kdf", "opslimit", argon2id.OPSLIMIT_INTERACTIVE + 1),
    ],
    ids=["ciphertext", "nonce", "public_key", "salt", "require_passphrase", "role", "opslimit"],
)
def test_tampered_file_fails_to_decrypt(
    tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    tamper(path, change)
    with pytest.raises(KeyDecryptionError, match="wrong passphrase, or the file was modified"):
        read_key_file(path, PASSPHRASE)


def _delete(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (_set("type", "something-else"), '"type": "heso-key"'),
        (_delete("version"), "'version'"),
        (_set("version", "1"), "'version'"),
        (_set("version", True), "'version'"),
        (_set("role", "admin"), "unknown role"),
        (_set("public_key", "ed25519:xyz"), "public key"),
        (_delete("public_key"), "'public_key'"),
        (_set("require_passphrase", "no"), "'require_passphrase'"),
        (_set("require_passphrase", 0), "'require_passphrase'"),
        (_set("kdf", "name", "scrypt"), "unsupported kdf"),
        (_set("kdf", "opslimit", 0), "opslimit"),
        (_set("kdf", "opslimit", 2.0), "'opslimit'"),
        (_set("kdf", "memlimit", 2**50), "memlimit"),
        (_delete("kdf", "salt"), "'salt'"),
        (_set("kdf", "salt", "not base64!"), "not base64"),
        (_set("kdf", "salt", base64.b64encode(b"short").decode()), "5 bytes, expected 16"),
        (_set("kdf", []), "'kdf'"),
        (_set("cipher", "name", "aes-gcm"), "unsupported cipher"),
        (_set("cipher", "nonce", base64.b64encode(b"\0" * 12).decode()), "12 bytes"),
        (_set("cipher", "ciphertext", base64.b64encode(b"\0" * 47).decode()), "47 bytes"),
        (_delete("cipher"), "'cipher'"),
    ],
)
def test_malformed_key_file_is_reported_as_corrupt(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], detail: str
) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    tamper(path, change)
    for read in (
        lambda: read_key_file(path, PASSPHRASE),
        lambda: read_public_key(path),
        lambda: key_file_requires_passphrase(path),
    ):
        with pytest.raises(KeyDecryptionError, match="not a valid heso key file") as info:
            read()
        assert detail in str(info.value)
        assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"\xff\xfe\x00garbage", b"[]", b"null", b'"heso-key"', b"{}"],
    ids=["empty", "open-brace", "binary", "array", "null", "string", "empty-object"],
)
def test_garbled_key_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(content)
    with pytest.raises(KeyDecryptionError, match="not a valid heso key file"):
        read_key_file(path, PASSPHRASE)


def test_truncated_key_file(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    full = path.read_bytes()
    for cut in (1, len(full) // 2, len(full) - 3):
        path.write_bytes(full[:cut])
        with pytest.raises(KeyDecryptionError, match="not valid JSON"):
            read_key_file(path, PASSPHRASE)


def test_oversized_key_file(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(b" " * (64 * 1024 + 1))
    with pytest.raises(KeyDecryptionError, match="larger than"):
        read_public_key(path)


@pytest.mark.parametrize(("version", "hint"), [(2, "upgrade heso"), (0, "restore")])
def test_unknown_version(tmp_path: Path, version: int, hint: str) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    tamper(path, _set("version", version))
    with pytest.raises(KeyDecryptionError, match=f"unsupported key file version {version}") as info:
        read_key_file(path, PASSPHRASE)
    assert hint in str(info.value)


def test_missing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.key"
    for read in (
        lambda: read_key_file(path, PASSPHRASE),
        lambda: read_public_key(path),
        lambda: key_file_requires_passphrase(path),
    ):
        with pytest.raises(HesoConfigError, match="key file not found") as info:
            read()
        assert not isinstance(info.value, KeyDecryptionError)
        assert info.value.path == str(path)


def test_key_file_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(HesoConfigError, match="cannot read key file"):
        read_key_file(tmp_path, PASSPHRASE)


def test_read_key_file_requires_bytes_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_key_file(path, SigningKey.generate(), PASSPHRASE)
    with pytest.raises(TypeError, match="bytes"):
        read_key_file(path, PASSPHRASE.decode())  # type: ignore[arg-type]


# --- passphrase resolution -----------------------------------------------------------------------


def test_env_passphrase_wins(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / DEV_PASSPHRASE_FILE).write_bytes(b"dev-passphrase\n")
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "from the environment")
    assert resolve_passphrase(data_dir, create_dev=True) == b"from the environment"
    monkeypatch.setenv("HESO_ENV", "production")
    assert resolve_passphrase(data_dir, require_real=True) == b"from the environment"


def test_empty_env_passphrase_counts_as_unset(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / DEV_PASSPHRASE_FILE).write_bytes(b"dev-passphrase\n")
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "")
    assert resolve_passphrase(data_dir) == b"dev-passphrase"


def test_no_passphrase_anywhere(data_dir: Path) -> None:
    with pytest.raises(HesoConfigError) as info:
        resolve_passphrase(data_dir)
    assert "HESO_KEY_PASSPHRASE" in str(info.value)
    assert "heso init" in str(info.value)
    assert not data_dir.exists()


@posix_only
def test_dev_passphrase_created_only_on_request(data_dir: Path) -> None:
    first = resolve_passphrase(data_dir, create_dev=True)
    dev_file = data_dir / DEV_PASSPHRASE_FILE
    assert len(first) >= 32
    assert dev_file.read_bytes().strip() == first
    assert mode(dev_file) == 0o600
    assert mode(data_dir) == 0o700
    assert resolve_passphrase(data_dir) == first
    assert resolve_passphrase(data_dir, create_dev=True) == first
    other = data_dir.parent / "other"
    assert resolve_passphrase(other, create_dev=True) != first


def test_empty_dev_passphrase_file(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / DEV_PASSPHRASE_FILE).write_bytes(b"\n")
    with pytest.raises(HesoConfigError, match="empty"):
        resolve_passphrase(data_dir)


@pytest.mark.parametrize("env", ["production", "Production", " PRODUCTION "])
def test_production_refuses_the_dev_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / DEV_PASSPHRASE_FILE).write_bytes(b"dev-passphrase\n")
    monkeypatch.setenv("HESO_ENV", env)
    with pytest.raises(HesoConfigError, match="production") as info:
        resolve_passphrase(data_dir)
    assert "HESO_KEY_PASSPHRASE" in str(info.value)
    with pytest.raises(HesoConfigError, match="production"):
        resolve_passphrase(data_dir.parent / "fresh", create_dev=True)
    assert not (data_dir.parent / "fresh" / DEV_PASSPHRASE_FILE).exists()


def test_require_real_refuses_the_dev_file(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / DEV_PASSPHRASE_FILE).write_bytes(b"dev-passphrase\n")
    with pytest.raises(HesoConfigError, match="--require-passphrase"):
        resolve_passphrase(data_dir, require_real=True)


def test_key_file_flag_refuses_the_dev_file(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / DEV_PASSPHRASE_FILE).write_bytes(b"dev-passphrase\n")
    write_key_file(
        data_dir / OPERATOR_KEY_FILE, SigningKey.generate(), PASSPHRASE, require_passphrase=True
    )
    with pytest.raises(HesoConfigError, match="created with --require-passphrase"):
        resolve_passphrase(data_dir)


# --- the operator key --------------------------------------------------------------------------


@posix_only
def test_ensure_creates_then_loads_without_overwriting(data_dir: Path) -> None:
    key, created = ensure_operator_key(data_dir)
    assert created is True
    key_file = data_dir / OPERATOR_KEY_FILE
    assert mode(key_file) == 0o600
    assert mode(data_dir / DEV_PASSPHRASE_FILE) == 0o600
    assert mode(data_dir) == 0o700
    before = key_file.read_bytes()
    dev_before = (data_dir / DEV_PASSPHRASE_FILE).read_bytes()

    again, created_again = ensure_operator_key(data_dir)
    assert created_again is False
    assert again.public_key() == key.public_key()
    assert key_file.read_bytes() == before
    assert (data_dir / DEV_PASSPHRASE_FILE).read_bytes() == dev_before
    assert load_operator_key(data_dir).public_key() == key.public_key()
    assert sorted(p.name for p in data_dir.iterdir()) == [DEV_PASSPHRASE_FILE, OPERATOR_KEY_FILE]


def test_ensure_with_env_passphrase_writes_no_dev_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "real passphrase")
    key, created = ensure_operator_key(data_dir)
    assert created
    assert not (data_dir / DEV_PASSPHRASE_FILE).exists()
    assert read_key_file(data_dir / OPERATOR_KEY_FILE, b"real passphrase").public_key() == (
        key.public_key()
    )


def test_ensure_in_production_without_passphrase_creates_nothing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HESO_ENV", "production")
    with pytest.raises(HesoConfigError, match="production"):
        ensure_operator_key(data_dir)
    assert not (data_dir / OPERATOR_KEY_FILE).exists()
    assert not (data_dir / DEV_PASSPHRASE_FILE).exists()


def test_require_passphrase_needs_the_env_passphrase(data_dir: Path) -> None:
    with pytest.raises(HesoConfigError, match="HESO_KEY_PASSPHRASE"):
        ensure_operator_key(data_dir, require_passphrase=True)
    assert not (data_dir / OPERATOR_KEY_FILE).exists()
    assert not (data_dir / DEV_PASSPHRASE_FILE).exists()


def test_require_passphrase_is_persisted_and_enforced(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "real passphrase")
    key, created = ensure_operator_key(data_dir, require_passphrase=True)
    assert created
    assert key_file_requires_passphrase(data_dir / OPERATOR_KEY_FILE) is True
    assert ensure_operator_key(data_dir, require_passphrase=True)[1] is False
    assert load_operator_key(data_dir).public_key() == key.public_key()

    # Without the env passphrase a dev file is refused, in any environment.
    monkeypatch.delenv("HESO_KEY_PASSPHRASE")
    (data_dir / DEV_PASSPHRASE_FILE).write_bytes(b"real passphrase\n")
    for load in (lambda: load_operator_key(data_dir), lambda: ensure_operator_key(data_dir)):
        with pytest.raises(HesoConfigError, match="created with --require-passphrase"):
            load()


def test_require_passphrase_on_an_existing_unflagged_key_is_refused(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "real passphrase")
    ensure_operator_key(data_dir)
    before = (data_dir / OPERATOR_KEY_FILE).read_bytes()
    with pytest.raises(HesoConfigError, match="without --require-passphrase"):
        ensure_operator_key(data_dir, require_passphrase=True)
    assert (data_dir / OPERATOR_KEY_FILE).read_bytes() == before


def test_ensure_keeps_a_key_created_concurrently(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = SigningKey.generate()
    real_generate = SigningKey.generate

    def generate_while_another_process_wins() -> SigningKey:
        passphrase = resolve_passphrase(data_dir, create_dev=True)
        write_key_file(data_dir / OPERATOR_KEY_FILE, winner, passphrase)
        return real_generate()

    monkeypatch.setattr(SigningKey, "generate", generate_while_another_process_wins)
    key, created = ensure_operator_key(data_dir)
    assert created is False
    assert key.public_key() == winner.public_key()
    assert read_public_key(data_dir / OPERATOR_KEY_FILE) == winner.public_key()
    assert sorted(p.name for p in data_dir.iterdir()) == [DEV_PASSPHRASE_FILE, OPERATOR_KEY_FILE]


def test_load_operator_key_missing(data_dir: Path) -> None:
    with pytest.raises(HesoConfigError, match="heso init") as info:
        load_operator_key(data_dir)
    assert str(data_dir / OPERATOR_KEY_FILE) in str(info.value)


def test_load_operator_key_never_creates_the_dev_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "real passphrase")
    ensure_operator_key(data_dir)
    monkeypatch.delenv("HESO_KEY_PASSPHRASE")
    with pytest.raises(HesoConfigError, match="HESO_KEY_PASSPHRASE"):
        load_operator_key(data_dir)
    assert not (data_dir / DEV_PASSPHRASE_FILE).exists()


def test_load_operator_key_wrong_env_passphrase(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_operator_key(data_dir)  # dev passphrase
    monkeypatch.setenv("HESO_KEY_PASSPHRASE", "some other passphrase")
    with pytest.raises(KeyDecryptionError) as info:
        load_operator_key(data_dir)
    message = str(info.value)
    assert str(data_dir / OPERATOR_KEY_FILE) in message
    assert "came from HESO_KEY_PASSPHRASE" in message
    assert "some other passphrase" not in message
    assert (data_dir / DEV_PASSPHRASE_FILE).read_text().strip() not in message


def test_load_operator_key_refuses_an_approver_key(data_dir: Path) -> None:
    passphrase = resolve_passphrase(data_dir, create_dev=True)
    write_key_file(data_dir / OPERATOR_KEY_FILE, SigningKey.generate(), passphrase, role="approver")
    with pytest.raises(HesoConfigError, match="not an operator key"):
        load_operator_key(data_dir)


def test_corrupt_operator_key(data_dir: Path) -> None:
    ensure_operator_key(data_dir)
    (data_dir / OPERATOR_KEY_FILE).write_text("{ not json")
    for action in (
        lambda: load_operator_key(data_dir),
        lambda: ensure_operator_key(data_dir),
        lambda: resolve_passphrase(data_dir),
    ):
        with pytest.raises(KeyDecryptionError, match="not a valid heso key file"):
            action()


# --- approvers ---------------------------------------------------------------------------------


def test_approver_key_dir_default_and_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "home"))
    assert approver_key_dir() == tmp_path / "home" / ".config" / "heso" / "approvers"
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approvers"))
    assert approver_key_dir() == tmp_path / "approvers"
    monkeypatch.setenv("HESO_APPROVER_HOME", "~/elsewhere")
    assert approver_key_dir() == tmp_path / "home" / "elsewhere"


@posix_only
def test_approver_key_in_new_approver_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HESO_APPROVER_HOME", str(tmp_path / "approvers"))
    key = SigningKey.generate()
    path = approver_key_dir() / "alice.key"
    write_key_file(path, key, PASSPHRASE, role="approver")
    assert mode(approver_key_dir()) == 0o700
    assert mode(path) == 0o600
    assert read_key_file(path, PASSPHRASE).public_key() == key.public_key()


# --- the seed never leaks ------------------------------------------------------------------------


def test_seed_never_appears_in_files_or_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = SigningKey.from_private_bytes(RFC8032_SEED)
    write_key_file(tmp_path / "op.key", key, PASSPHRASE)
    write_key_file(tmp_path / "ap.key", key, PASSPHRASE, role="approver", require_passphrase=True)
    data_dir = tmp_path / "heso-local-data"
    made, _ = ensure_operator_key(data_dir)
    assert_no_seed_in_files(tmp_path, RFC8032_SEED)
    assert_no_seed_in_files(data_dir, made.private_bytes_unsafe())

    messages: list[str] = []
    for action in (
        lambda: read_key_file(tmp_path / "op.key", b"wrong"),
        lambda: (
            tamper(tmp_path / "op.key", _flip_ciphertext)
            or read_key_file(tmp_path / "op.key", PASSPHRASE)
        ),
        lambda: (
            tamper(tmp_path / "op.key", _set("version", 9))
            or read_key_file(tmp_path / "op.key", PASSPHRASE)
        ),
        lambda: PublicKey.from_str("ed25519:" + RFC8032_SEED.hex().upper()),
        lambda: SigningKey.from_private_bytes(RFC8032_SEED + b"\0"),
    ):
        with pytest.raises((ValueError, HesoConfigError)) as info:
            action()
        messages.append(str(info.value))
        if isinstance(info.value, HesoConfigError):
            messages.append(info.value.diagnostics())
    for message in [*messages, repr(key), str(key)]:
        assert_no_seed(message, RFC8032_SEED)
    assert_no_seed_in_files(tmp_path, RFC8032_SEED)


def test_a_deeply_nested_key_file_is_a_clear_error(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "operator.key"
    path.write_bytes(b"[" * 60_000)
    with pytest.raises(KeyDecryptionError, match="nested too deeply") as caught:
        read_key_file(path, PASSPHRASE)
    assert str(path) in str(caught.value)


class _Vault:
    """A secrets manager stand-in: the passphrase comes from here, not the environment."""

    name = "the vault"

    def __init__(self, value: bytes | None) -> None:
        self.value = value

    def read(self) -> bytes | None:
        return self.value


def test_the_operator_passphrase_can_come_from_any_secret_source(tmp_path: Path) -> None:
    vault = _Vault(b"from the vault")
    key, created = ensure_operator_key(tmp_path, require_passphrase=True, secret=vault)
    assert created and not (tmp_path / DEV_PASSPHRASE_FILE).exists()
    public = key.public_key()
    assert read_key_file(tmp_path / OPERATOR_KEY_FILE, b"from the vault").public_key() == public
    assert load_operator_key(tmp_path, secret=vault).public_key() == public
    assert resolve_passphrase(tmp_path, secret=vault) == b"from the vault"
    with pytest.raises(KeyDecryptionError, match="came from the vault"):
        load_operator_key(tmp_path, secret=_Vault(b"wrong"))
    with pytest.raises(HesoConfigError, match="the vault is not set") as info:
        load_operator_key(tmp_path, secret=_Vault(None))
    assert info.value.key == "the vault"
    # The default source is HESO_KEY_PASSPHRASE, unset here.
    with pytest.raises(HesoConfigError, match="HESO_KEY_PASSPHRASE is not set"):
        load_operator_key(tmp_path)
