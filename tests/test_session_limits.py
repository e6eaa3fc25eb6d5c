"""The per-user cap and device replacement, through the HTTP login."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from rest_framework.test import APIClient

from redistoken import signals, store

pytestmark = pytest.mark.usefixtures("backend")


@pytest.mark.django_db(transaction=True)  # the login threads must see the committed user
def test_cap_holds_under_concurrent_http_logins(settings):
    settings.REDISTOKEN = {
        **settings.REDISTOKEN,
        "MAX_SESSIONS_PER_USER": 3,
        # The race is in Redis; 12 threads writing last_login at once lock
        # the test's in-memory SQLite table.
        "UPDATE_LAST_LOGIN": False,
    }
    user = get_user_model().objects.create_user("alice", password="pw")
    evicted, statuses = [], []
    start = threading.Barrier(12)

    def on_revoked(sender, session_id, reason, **kwargs):
        if reason == store.Reason.EVICTED:
            evicted.append(session_id)

    def log_in(n):
        try:
            start.wait(10)
            client = APIClient(REMOTE_ADDR=f"192.0.2.{n}")
            response = client.post("/auth/login/", {"username": "alice", "password": "pw", "device": f"d{n}"})
            statuses.append(response.status_code)
        finally:
            db_connection.close()

    signals.session_revoked.connect(on_revoked)
    try:
        store.list_sessions(user)  # build the Redis client before the threads race
        threads = [threading.Thread(target=log_in, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        signals.session_revoked.disconnect(on_revoked)
    assert statuses == [200] * 12
    assert len(store.list_sessions(user)) == 3
    assert len(evicted) == 9 and len(set(evicted)) == 9


@pytest.mark.django_db
def test_relogin_from_the_same_device_replaces_its_session():
    get_user_model().objects.create_user("alice", password="pw")
    client = APIClient()
    first = client.post("/auth/login/", {"username": "alice", "password": "pw", "device": "Pixel 8"}).json()
    second = client.post("/auth/login/", {"username": "alice", "password": "pw", "device": "Pixel 8"}).json()
    other = client.post("/auth/login/", {"username": "alice", "password": "pw", "device": "iPad"}).json()
    api = APIClient(HTTP_AUTHORIZATION=f"Token {second['token']}")
    assert {s["device"] for s in api.get("/auth/sessions/").json()} == {"Pixel 8", "iPad"}
    assert APIClient(HTTP_AUTHORIZATION=f"Token {first['token']}").get("/api/me/").status_code == 401
    assert APIClient(HTTP_AUTHORIZATION=f"Token {other['token']}").get("/api/me/").status_code == 200
