from __future__ import annotations

import hmac

import pytest

from distillguard.errors import WatermarkError
from distillguard.watermark.keys import KeyRing, MasterSecret, hkdf_sha256, normalise_scope


def test_hkdf_matches_rfc5869_test_case_1() -> None:
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = hkdf_sha256(ikm, salt=salt, info=info, length=42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_derivation_is_deterministic_and_scoped() -> None:
    m = MasterSecret(b"k" * 32)
    a = m.derive("cohort:a", "kgw")
    assert a == m.derive("a", "kgw")
    assert a.material != m.derive("cohort:b", "kgw").material
    assert a.material != m.derive("cohort:a", "lexical").material
    assert a.key_id != m.derive("cohort:b", "kgw").key_id


def test_key_id_and_repr_do_not_reveal_material() -> None:
    m = MasterSecret(b"k" * 32)
    k = m.derive("account:acct_1", "kgw")
    assert k.material.hex() not in repr(k)
    assert k.material.hex()[:8] not in k.key_id
    assert "material" not in k.metadata()
    assert "6b6b6b" not in repr(m)


def test_short_secret_rejected() -> None:
    with pytest.raises(WatermarkError, match="at least 16"):
        MasterSecret(b"short")


@pytest.mark.parametrize("scope", ["", "team:x", "account:"])
def test_bad_scope_named(scope: str) -> None:
    with pytest.raises(WatermarkError):
        normalise_scope(scope)


def test_save_load_round_trip_and_no_overwrite(tmp_path) -> None:
    m = MasterSecret.generate()
    p = tmp_path / "master.key"
    m.save(p)
    assert (p.stat().st_mode & 0o777) == 0o600
    assert MasterSecret.load(p).derive("a", "kgw") == m.derive("a", "kgw")
    with pytest.raises(WatermarkError, match="refusing to overwrite"):
        m.save(p)
    with pytest.raises(WatermarkError, match="not found"):
        MasterSecret.load(tmp_path / "missing.key")
    (tmp_path / "bad.key").write_text("zz")
    with pytest.raises(WatermarkError, match="not a hex"):
        MasterSecret.load(tmp_path / "bad.key")


def test_key_ring_dedups_and_lists_public_ids_only() -> None:
    m = MasterSecret(b"q" * 32)
    ring = KeyRing.derive(m, ["a", "cohort:a", "account:x"], "kgw")
    assert [k.scope for k in ring.keys] == ["cohort:a", "account:x"]
    listing = ring.listing()
    for k in ring.keys:
        assert k.key_id in listing
        assert k.material.hex() not in listing
    assert hmac.compare_digest(ring.by_scope()["account:x"].material, ring.keys[1].material)
