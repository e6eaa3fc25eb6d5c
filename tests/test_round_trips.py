"""Round trips and writes per authenticated request, counted where they happen."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from redistoken.settings import token_settings

from .conftest import ServerMonitor

pytestmark = pytest.mark.django_db


def test_one_round_trip_no_database_on_the_server(real_redis, settings):
    get_user_model().objects.create_user("alice", password="pw")
    token = APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json").json()["token"]
    settings.ROOT_URLCONF = "tests.urls"
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/whoami/").status_code == 200  # warm the script cache
    with ServerMonitor(real_redis, token_settings.KEY_PREFIX) as monitor:
        with CaptureQueriesContext(db_connection) as queries:
            for _ in range(5):
                assert api.get("/whoami/").status_code == 200
    assert len(queries) == 0
    assert len(monitor.commands) == 5
    assert all(command.startswith("EVALSHA") for command in monitor.commands)
    assert all(token not in command for command in monitor.commands)
