"""The token format, with no Redis at all."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redistoken import tokens

PREFIX = "rtk"


def make() -> str:
    return tokens.generate(PREFIX, tokens.user_tag(42), tokens.new_session_id())


def test_round_trip_exposes_tag_and_session_id():
    session_id = tokens.new_session_id()
    raw = tokens.generate(PREFIX, tokens.user_tag(42), session_id)
    parsed = tokens.parse(PREFIX, raw)
    assert parsed.tag == tokens.user_tag(42)
    assert parsed.session_id == session_id
    assert raw.startswith("rtk_2")


def test_tokens_are_unique_and_carry_enough_entropy():
    assert len({make() for _ in range(1000)}) == 1000
    assert 62**tokens.SECRET_LENGTH >= 2**160


def test_tag_is_stable_and_per_user():
    assert tokens.user_tag(42) == tokens.user_tag("42")
    assert tokens.user_tag(42) != tokens.user_tag(43)
    assert len(tokens.user_tag("any user id")) == tokens.TAG_LENGTH


@pytest.mark.parametrize("position", [5, 20, 40, -1])
def test_single_character_typo_is_rejected(position):
    raw = make()
    swapped = "A" if raw[position] != "A" else "B"
    typo = raw[:position] + swapped + raw[position + 1 :] if position != -1 else raw[:-1] + swapped
    with pytest.raises(tokens.MalformedToken):
        tokens.parse(PREFIX, typo)


def test_truncated_and_extended_tokens_are_rejected():
    raw = make()
    for bad in (raw[:-1], raw + "x", raw[:10], PREFIX + "_"):
        with pytest.raises(tokens.MalformedToken):
            tokens.parse(PREFIX, bad)


def test_unknown_version_is_rejected():
    raw = make()
    head = raw[:4] + "3" + raw[5 : -tokens.CHECKSUM_LENGTH]
    with pytest.raises(tokens.MalformedToken, match="version"):
        tokens.parse(PREFIX, head + tokens._checksum(head))


def test_ownership_is_by_prefix():
    assert tokens.owns(PREFIX, make())
    assert not tokens.owns(PREFIX, "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")  # a DRF token
    assert not tokens.owns(PREFIX, "rtkx_abc")


def test_verifier_is_a_hash_not_the_token():
    raw = make()
    digest = tokens.verifier(raw)
    assert len(digest) == 16
    assert digest not in raw.encode()
    assert len(tokens.legacy_verifier(raw)) == 22
    assert digest == tokens.verifier(raw)
    assert digest != tokens.verifier(make())


@given(st.text(alphabet=string.printable, max_size=120))
def test_parse_never_accepts_random_text(text):
    with pytest.raises(tokens.MalformedToken):
        tokens.parse(PREFIX, f"{PREFIX}_{text}")
