"""The deployment certificate's pure rules: names, challenge record names, renewal timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.certificates import (
    MAX_NAMES,
    CertificateBundle,
    CertificateError,
    bundle_from_pems,
    certificate_names,
    challenge_record,
    renewal_reason,
    slot_labels,
    usable,
)
from tests.support.certs import self_signed

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_names_are_the_domain_wildcard_then_one_per_slot() -> None:
    assert certificate_names("WS.Example.com.") == ("*.ws.example.com",)
    assert certificate_names("ws.example.com", 2) == (
        "*.ws.example.com", "*.s00.ws.example.com", "*.s01.ws.example.com",
    )  # fmt: skip
    assert len(certificate_names("ws.example.com", 99)) == MAX_NAMES == 100


@pytest.mark.parametrize("slots", [-1, 100])
def test_slots_beyond_one_certificate_are_refused(slots: int) -> None:
    with pytest.raises(ValueError, match="between 0 and 99"):
        slot_labels(slots)


@pytest.mark.parametrize("domain", ["", "com", " . "])
def test_a_domain_needs_two_labels(domain: str) -> None:
    with pytest.raises(ValueError):
        certificate_names(domain)


def test_wildcard_and_base_name_share_one_challenge_record() -> None:
    """RFC 8555 §8.4 and §7.1.3: a wildcard's authorization is for its base name."""
    assert challenge_record("*.ws.example.com") == "_acme-challenge.ws.example.com"
    assert challenge_record("ws.example.com.") == "_acme-challenge.ws.example.com"
    assert challenge_record("*.S00.ws.example.com") == "_acme-challenge.s00.ws.example.com"


def bundle(names: tuple[str, ...], start: datetime = NOW, days: int = 90) -> CertificateBundle:
    cert, key = self_signed(names, start, timedelta(days=days))
    return bundle_from_pems(cert, key)


def test_renewal_is_due_thirty_days_before_expiry() -> None:
    names = ("*.ws.example.com",)
    current = bundle(names)
    expiry = current.not_after
    assert renewal_reason(None, names, NOW) == "no deployment certificate yet"
    assert renewal_reason(current, names, expiry - timedelta(days=30, seconds=1)) == ""
    assert renewal_reason(current, names, expiry - timedelta(days=30)) != ""
    assert "expires in 0 days" in renewal_reason(current, names, expiry + timedelta(days=3))
    assert "does not cover exactly" in renewal_reason(
        current, (*names, "*.s00.ws.example.com"), NOW
    )


def test_usable_means_inside_the_validity_period() -> None:
    current = bundle(("*.ws.example.com",))
    assert usable(current, NOW + timedelta(days=1))
    assert not usable(current, NOW - timedelta(days=1))
    assert not usable(current, current.not_after)
    assert not usable(None, NOW)


def test_a_key_that_is_not_the_certificates_is_refused() -> None:
    cert, _ = self_signed(("*.ws.example.com",))
    _, other_key = self_signed(("*.ws.example.com",))
    with pytest.raises(CertificateError, match="does not belong"):
        bundle_from_pems(cert, other_key)
    with pytest.raises(CertificateError, match="not valid PEM"):
        bundle_from_pems("junk", other_key)


def test_the_stored_form_round_trips_and_never_shows_the_key() -> None:
    current = bundle(("*.ws.example.com", "*.s00.ws.example.com"))
    again = CertificateBundle.from_json(current.to_json())
    assert again == current
    assert "PRIVATE" not in repr(current)
    with pytest.raises(CertificateError, match="malformed"):
        CertificateBundle.from_json('{"fullchain_pem": 1}')
