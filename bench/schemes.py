"""The schemes under test: a URL of the benchmark site and the credentials
one user presents to it. Every scheme gets a fresh credential per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

USER_AGENT = "MyApp/3.2 (Android 14)"


@dataclass(frozen=True)
class Scheme:
    name: str
    path: str
    authorization: str = ""  # the Authorization header, "" for none
    expect: int = 200
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. {"REDISTOKEN": {...}}
    http: bool = True  # also measured in the HTTP mode


def bench_user() -> Any:
    model = get_user_model()
    user, _ = model.objects.get_or_create(username="bench", defaults={"is_active": True})
    return user


def schemes() -> list[Scheme]:
    """Fresh credentials for every scheme (needs the database and Redis)."""
    from knox.models import AuthToken
    from rest_framework.authtoken.models import Token
    from rest_framework_simplejwt.tokens import AccessToken

    from redistoken import store

    user = bench_user()
    Token.objects.filter(user=user).delete()
    AuthToken.objects.filter(user=user).delete()
    drf = Token.objects.create(user=user).key
    _, knox = AuthToken.objects.create(user)
    jwt = str(AccessToken.for_user(user))
    ours = store.issue_token(user, device="Pixel 7", ip="203.0.113.7", user_agent=USER_AGENT).token
    eager = store.issue_token(user, device="Pixel 7 (eager)", ip="203.0.113.7", user_agent=USER_AGENT).token
    every = store.issue_token(user, device="Pixel 7 (renew always)", ip="203.0.113.7", user_agent=USER_AGENT).token
    malformed = ours[:-1] + ("A" if ours[-1] != "A" else "B")  # checksum fails
    return [
        Scheme("no auth (floor)", "/noauth/"),
        Scheme("DRF TokenAuthentication", "/drf/", f"Token {drf}"),
        Scheme("knox (AUTO_REFRESH)", "/knox/", f"Token {knox}"),
        Scheme(
            "knox, MIN_REFRESH_INTERVAL=0",
            "/knox/",
            f"Token {knox}",
            overrides={"REST_KNOX": {"MIN_REFRESH_INTERVAL": 0}},
            http=False,
        ),
        Scheme("simplejwt, user from DB", "/jwt/", f"Bearer {jwt}"),
        Scheme("simplejwt stateless", "/jwt-stateless/", f"Bearer {jwt}"),
        Scheme("simplejwt stateless + 1 GET", "/jwt-stateless-get/", f"Bearer {jwt}"),
        Scheme("redistoken (lazy user)", "/redistoken/", f"Token {ours}"),
        Scheme("redistoken (eager user)", "/redistoken-eager/", f"Token {eager}"),
        Scheme(
            "redistoken RENEW_INTERVAL=0",
            "/redistoken/",
            f"Token {every}",
            overrides={"REDISTOKEN": {"RENEW_INTERVAL": 0}},
            http=False,
        ),
        Scheme("redistoken, malformed token", "/redistoken/", f"Token {malformed}", expect=401),
    ]
