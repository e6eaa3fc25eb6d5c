"""client_address.py: REMOTE_ADDR by default, forwarding headers only through trusted proxies."""

import pytest
from django.test import RequestFactory

from redistoken.client_address import client_address, parse_address, problems


def address(settings, meta, **config):
    settings.REDISTOKEN = {"EMBEDDED_STORE": True, **config}
    return client_address(RequestFactory().get("/", **meta))


def test_remote_addr_by_default_whatever_the_headers_say(settings):
    meta = {
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_X_FORWARDED_FOR": "<script>x</script>, 6.6.6.6",
        "HTTP_FORWARDED": "for=7.7.7.7",
    }
    assert address(settings, meta) == "192.0.2.1"


def test_no_valid_remote_addr_is_empty_never_text(settings):
    assert address(settings, {"REMOTE_ADDR": "<b>hi</b>"}) == ""


@pytest.mark.parametrize(
    "config,xff,expected",
    [
        ({"TRUSTED_PROXIES": ["10.0.0.0/8"]}, "203.0.113.5", "203.0.113.5"),
        ({"TRUSTED_PROXIES": ["10.0.0.0/8"]}, "6.6.6.6, 203.0.113.5, 10.2.2.2", "203.0.113.5"),  # right to left
        ({"TRUSTED_PROXIES": ["10.0.0.0/8"]}, "6.6.6.6, garbage", "10.0.0.1"),  # a proxy wrote no address
        ({"TRUSTED_PROXIES": ["10.0.0.0/8"]}, "", "10.0.0.1"),
        ({"TRUSTED_PROXY_COUNT": 1}, "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        ({"TRUSTED_PROXY_COUNT": 2}, "6.6.6.6, 203.0.113.5, 172.16.0.9", "203.0.113.5"),
        ({"TRUSTED_PROXIES": ["192.168.0.0/16"]}, "203.0.113.5", "10.0.0.1"),  # REMOTE_ADDR not trusted
        ({"TRUSTED_PROXIES": ["10.0.0.0/8"]}, "[2001:db8::1]:443", "2001:db8::1"),
        ({"TRUSTED_PROXIES": ["10.0.0.0/8"]}, "203.0.113.5:5000", "203.0.113.5"),
        ({"TRUSTED_PROXIES": ["10.0.0.0/8"]}, "::ffff:203.0.113.5", "203.0.113.5"),
    ],
)
def test_x_forwarded_for_through_trusted_proxies(settings, config, xff, expected):
    assert address(settings, {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": xff}, **config) == expected


def test_rfc_7239_forwarded_when_configured(settings):
    meta = {
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_FORWARDED": 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.9.9.9;by=10.0.0.1',
        "HTTP_X_FORWARDED_FOR": "7.7.7.7",  # not the configured header: ignored
    }
    config = {"TRUSTED_PROXIES": ["10.0.0.0/8"], "FORWARDED_HEADER": "Forwarded"}
    assert address(settings, meta, **config) == "2001:db8:cafe::17"
    meta["HTTP_FORWARDED"] = "for=_hidden, for=unknown"
    assert address(settings, meta, **config) == "10.0.0.1"


def test_parse_address_accepts_only_addresses():
    assert str(parse_address(" 2001:DB8::1 ")) == "2001:db8::1"
    assert str(parse_address("fe80::1%eth0")) == "fe80::1"
    for text in ("", "unknown", "1.2.3", "<script>", "[::1", "_obf"):
        assert parse_address(text) is None


def test_proxy_settings_are_checked(settings):
    settings.REDISTOKEN = {"TRUSTED_PROXIES": "10.0.0.0/8", "TRUSTED_PROXY_COUNT": -1, "FORWARDED_HEADER": "X-Real-IP"}
    assert len(problems()) == 3
    settings.REDISTOKEN = {"TRUSTED_PROXIES": ["10.0.0.0/33"]}
    assert problems() == ["TRUSTED_PROXIES: '10.0.0.0/33' is not a network such as '10.0.0.0/8'."]
