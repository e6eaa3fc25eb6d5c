"""Staff API: list and revoke any user's sessions, with the same permission as the admin."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from .servers import RedisServer

pytestmark = [pytest.mark.django_db]

User = get_user_model()


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="correct horse")


@pytest.fixture
def staff():
    user = User.objects.create_user("staff", password="staff-pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="revoke_sessions"))
    return user


def login(username, password, device=""):
    agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"
    response = APIClient(HTTP_USER_AGENT=agent).post(
        "/auth/login/", {"username": username, "password": password, "device": device}
    )
    assert response.status_code == 200
    return response.json()


def api(token):
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}")


def status(token):
    return api(token).get("/api/me/").status_code


@pytest.mark.usefixtures("backend")
def test_list_revoke_one_and_all(alice, staff):
    phone, laptop, tablet = (login("alice", "correct horse", name) for name in ("phone", "laptop", "tablet"))
    admin_api = api(login("staff", "staff-pw")["token"])
    listed = admin_api.get(f"/auth/users/{alice.pk}/sessions/")
    assert listed.status_code == 200
    assert {s["device"] for s in listed.json()} == {"phone", "laptop", "tablet"}
    assert {s["device_label"] for s in listed.json()} == {"Chrome 131 on macOS"}
    assert all(phone["token"] not in str(s) for s in listed.json())
    assert admin_api.delete(f"/auth/users/{alice.pk}/sessions/{phone['session']['id']}/").status_code == 204
    assert admin_api.delete(f"/auth/users/{alice.pk}/sessions/{phone['session']['id']}/").status_code == 404
    assert [status(phone["token"]), status(laptop["token"])] == [401, 200]
    response = admin_api.delete(f"/auth/users/{alice.pk}/sessions/")
    assert response.status_code == 200 and response.json() == {"revoked": 2}
    assert [status(laptop["token"]), status(tablet["token"])] == [401, 401]


@pytest.mark.usefixtures("backend")
def test_permission_is_required_not_just_staff(alice):
    issued = login("alice", "correct horse")
    User.objects.create_user("helpdesk", password="hd-pw", is_staff=True)
    helpdesk = api(login("helpdesk", "hd-pw")["token"])
    assert helpdesk.get(f"/auth/users/{alice.pk}/sessions/").status_code == 403
    assert helpdesk.delete(f"/auth/users/{alice.pk}/sessions/").status_code == 403
    assert helpdesk.delete(f"/auth/users/{alice.pk}/sessions/{issued['session']['id']}/").status_code == 403
    assert api(issued["token"]).get(f"/auth/users/{alice.pk}/sessions/").status_code == 403  # not even their own
    assert APIClient().get(f"/auth/users/{alice.pk}/sessions/").status_code == 401
    assert status(issued["token"]) == 200


@pytest.mark.usefixtures("backend")
def test_unknown_users_and_bad_ids_are_404(staff):
    admin_api = api(login("staff", "staff-pw")["token"])
    for user_id in ("999999", "not-a-number", "1e3"):
        response = admin_api.get(f"/auth/users/{user_id}/sessions/")
        assert response.status_code == 404
        assert "Traceback" not in response.content.decode()
    assert admin_api.delete(f"/auth/users/{staff.pk}/sessions/not-an-id/").status_code == 404


@pytest.mark.servers
def test_redis_down_is_503(alice, staff, settings):
    server = RedisServer().start()
    try:
        settings.REDISTOKEN = {"REDIS_URL": server.url, "SOCKET_TIMEOUT": 0.2, "USER_LOADING": "eager"}
        admin_api = api(login("staff", "staff-pw")["token"])
        assert admin_api.get(f"/auth/users/{alice.pk}/sessions/").status_code == 200
        server.stop()
        response = admin_api.delete(f"/auth/users/{alice.pk}/sessions/")
        assert response.status_code == 503 and int(response["Retry-After"]) > 0
    finally:
        server.cleanup()
        from redistoken import connection

        connection.reset_client()
