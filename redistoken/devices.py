"""Device labels: "Chrome 131 on macOS" from a user agent, as people
recognise their devices. Computed once, at login; never per request.

Browsers are named by ``ua-parser`` (the uap-core rules, refreshed monthly
in ``ua-parser-builtins``; ``ua-parser-rs`` makes it fast where installed).
Native apps send ``Name/1.2 (Platform 14)``, which no parser knows by
name: a rule of our own reads those first. See docs/sessions.md.
"""

from __future__ import annotations

import re

import ua_parser

#: The longest label kept (the store keeps fewer bytes if it must).
LABEL_MAX_LENGTH = 40

_APP = re.compile(r"([A-Za-z][\w.-]{0,24})/(\d+(?:\.\d+)?)\S* \(([A-Za-z][A-Za-z ]{0,15}?) ?(\d+(?:\.\d+)?)?[;)]")
_PRODUCT = re.compile(r"([A-Za-z][\w.-]{0,24})/(\d+(?:\.\d+)?)")
_OS_NAMES = {"Mac OS X": "macOS"}
_VERSIONLESS = {"macOS", "Linux", "Chrome OS", "Ubuntu"}  # versions these UAs send are frozen or absent


def _named(name: str | None, *versions: str | None) -> str:
    if not name or name == "Other":
        return ""
    shown = ".".join(v for v in versions if v)
    return f"{name} {shown}" if shown else name


def label(user_agent: str) -> str:
    """A short name for the device behind ``user_agent`` ("" when unknown)."""
    if not user_agent:
        return ""
    app = None if user_agent.startswith("Mozilla/") else _APP.match(user_agent)
    if app:
        name, version, platform, platform_version = app.groups()
        found = f"{name} {version} on {_named(platform, platform_version)}"
    else:
        parsed = ua_parser.parse(user_agent)
        browser = _named(parsed.user_agent.family, parsed.user_agent.major) if parsed.user_agent else ""
        os_name = ""
        if parsed.os and parsed.os.family != "Other":
            family = _OS_NAMES.get(parsed.os.family, parsed.os.family)
            minor = parsed.os.minor if family in ("iOS", "iPadOS") else None
            os_name = family if family in _VERSIONLESS else _named(family, parsed.os.major, minor)
        found = " on ".join(part for part in (browser, os_name) if part)
        product = None if found else _PRODUCT.match(user_agent)
        if product:
            found = " ".join(product.groups())
    return found[:LABEL_MAX_LENGTH]
