"""Field validation and the human-typed codes."""

from __future__ import annotations

import pytest

from shared.domain import codes
from shared.domain.errors import ValidationError
from shared.domain.validation import (
    validate_api_key,
    validate_name,
    validate_seats,
    validate_seats_per_host,
)


@pytest.mark.parametrize("bad", [0, -1, "10", 10.5, 1e9, 501, True, None, [10]])
def test_bad_seats_are_refused_naming_the_field(bad):
    with pytest.raises(ValidationError) as info:
        validate_seats(bad)
    assert info.value.field == "seats"


@pytest.mark.parametrize("good", [1, 10, 500])
def test_seats_in_range_pass(good):
    assert validate_seats(good) == good


def test_seats_respect_a_lower_configured_max():
    with pytest.raises(ValidationError):
        validate_seats(11, max_seats=10)


@pytest.mark.parametrize("bad", [0, 51, "5", 2.0, False])
def test_bad_seats_per_host(bad):
    with pytest.raises(ValidationError) as info:
        validate_seats_per_host(bad)
    assert info.value.field == "seats_per_host"


def test_seats_per_host_defaults_to_ten():
    assert validate_seats_per_host(None) == 10


@pytest.mark.parametrize(
    "bad", ["", "   ", "x" * 101, "tab\there", "new\nline", "nul\x00", "bell\x07", "\u202eevil", 42]
)
def test_bad_names(bad):
    with pytest.raises(ValidationError) as info:
        validate_name(bad)
    assert info.value.field == "name"


def test_name_is_trimmed_and_unicode_is_fine():
    assert validate_name("  Café Claude 101  ") == "Café Claude 101"
    assert validate_name("x" * 100) == "x" * 100


@pytest.mark.parametrize(
    "bad", ["", "sk-ant-short", "sk-ant-" + "a" * 30 + "; rm -rf /", "pk-" + "a" * 40, None, 7]
)
def test_bad_api_keys_are_refused_without_echoing(bad):
    with pytest.raises(ValidationError) as info:
        validate_api_key(bad)
    assert info.value.field == "api_key"
    if isinstance(bad, str) and bad:
        assert bad not in info.value.message


def test_good_api_key():
    key = "sk-ant-api03-" + "A1b2_-" * 10
    assert validate_api_key(key) == key


@pytest.mark.parametrize(
    "typed", ["CLAUDE-XY9Z", "claude-xy9z", " claude xy9z ", "CLAUDEXY9Z", "xy9z", "x y 9 z"]
)
def test_workshop_code_is_forgiving(typed):
    assert codes.normalize_workshop_code(typed) == "CLAUDE-XY9Z"


@pytest.mark.parametrize(
    "typed", ["", "CLAUDE-XY9", "CLAUDE-XY9ZZ", "CLAUDE-0OIL", "x" * 100, None]
)
def test_impossible_workshop_codes(typed):
    assert codes.normalize_workshop_code(typed) is None


def test_generated_codes_use_the_unambiguous_alphabet():
    for _ in range(200):
        code = codes.new_workshop_code()
        assert codes.normalize_workshop_code(code) == code
        rc = codes.new_reconnect_code()
        assert codes.normalize_reconnect_code(rc.lower()) == rc
        wid = codes.new_workshop_id()
        assert wid[0] == "w" and set(wid[1:]) <= set(codes.ID_ALPHABET)


def test_reconnect_hash_is_scoped_to_the_workshop():
    assert codes.hash_reconnect_code("w1", "ABCDEF") != codes.hash_reconnect_code("w2", "ABCDEF")
    assert codes.hash_reconnect_code("w1", "ABCDEF") == codes.hash_reconnect_code("w1", "ABCDEF")
    assert "ABCDEF" not in codes.hash_reconnect_code("w1", "ABCDEF")


def test_codes_come_from_secrets_not_random():
    import inspect

    source = inspect.getsource(codes)
    assert "import secrets" in source and "import random" not in source
