"""The admin: sessions on the user's change page, revoke buttons, the bulk
action, and the permission that guards them, through Django's test client."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from redistoken import tokens
from redistoken.admin import SessionsAdminMixin, install

from .servers import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]

User = get_user_model()


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="correct horse")


@pytest.fixture
def root():
    return User.objects.create_superuser("root", password="root-pw")


@pytest.fixture
def helpdesk():
    """Staff who may edit users but holds no redistoken permission."""
    user = User.objects.create_user("helpdesk", password="hd-pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user"]))
    return user


def login(username="alice", password="correct horse", device="", agent="AliceApp/2.0"):
    client = APIClient(HTTP_USER_AGENT=agent, REMOTE_ADDR="198.51.100.7")
    response = client.post("/auth/login/", {"username": username, "password": password, "device": device})
    assert response.status_code == 200
    return response.json()


def status(token):
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/me/").status_code


def browser(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def change_url(user):
    return f"/admin/auth/user/{user.pk}/change/"


def revoke_url(user):
    return f"/admin/auth/user/{user.pk}/token-sessions/revoke/"


def csrf(page):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def test_change_page_lists_live_sessions_and_never_a_token(alice, root):
    phone = login(device="Pixel 8", agent="AliceApp/2.0 (Android)")
    laptop = login(device="ThinkPad")
    page = browser(root).get(change_url(alice))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="username"' in html  # the usual change form is still there
    section = html[html.index('id="redistoken-sessions"') :]
    assert section.count('class="redistoken-session"') == 2
    for text in ("Pixel 8", "ThinkPad", "AliceApp 2.0 on Android", "198.51.100.7", phone["session"]["id"]):
        assert text in section
    for issued in (phone, laptop):
        assert issued["token"] not in html
        assert tokens.legacy_verifier(issued["token"]) not in html
    their_form_ends = html.index("</form>", html.index('id="user_form"'))
    assert their_form_ends < html.index('id="redistoken-sessions"')  # ours is not nested in theirs


def test_revoke_one_and_all_buttons(alice, root):
    phone, laptop, tablet = (login(device=name) for name in ("phone", "laptop", "tablet"))
    client = browser(root)
    token = csrf(client.get(change_url(alice)))
    response = client.post(revoke_url(alice), {"csrfmiddlewaretoken": token, "session": phone["session"]["id"]})
    assert response.status_code == 302 and response["Location"] == change_url(alice)
    assert [status(phone["token"]), status(laptop["token"]), status(tablet["token"])] == [401, 200, 200]
    page = client.get(change_url(alice))
    assert "Session revoked." in page.content.decode()
    response = client.post(revoke_url(alice), {"csrfmiddlewaretoken": csrf(page), "all": "1"})
    assert response.status_code == 302
    assert [status(laptop["token"]), status(tablet["token"])] == [401, 401]
    assert "No live sessions." in client.get(change_url(alice)).content.decode()


def test_revoking_requires_csrf_and_post(alice, root):
    issued = login()
    client = browser(root)
    assert client.post(revoke_url(alice), {"all": "1"}).status_code == 403  # no CSRF token
    assert client.get(revoke_url(alice)).status_code == 405
    assert status(issued["token"]) == 200


def test_staff_without_the_permission_sees_and_revokes_nothing(alice, helpdesk):
    issued = login(device="Pixel 8")
    client = browser(helpdesk)
    page = client.get(change_url(alice))
    assert page.status_code == 200
    assert "redistoken-sessions" not in page.content.decode()
    assert "Pixel 8" not in page.content.decode()
    response = client.post(revoke_url(alice), {"csrfmiddlewaretoken": csrf(page), "all": "1"})
    assert response.status_code == 403
    changelist = client.get("/admin/auth/user/")
    assert "redistoken_revoke_all_sessions" not in changelist.content.decode()
    client.post(
        "/admin/auth/user/",
        {
            "csrfmiddlewaretoken": csrf(changelist),
            "action": "redistoken_revoke_all_sessions",
            "_selected_action": [alice.pk],
        },
    )
    assert status(issued["token"]) == 200

    helpdesk.user_permissions.add(Permission.objects.get(codename="revoke_sessions"))
    client = browser(User.objects.get(pk=helpdesk.pk))  # permissions are cached per user object
    page = client.get(change_url(alice))
    assert "Pixel 8" in page.content.decode()
    client.post(revoke_url(alice), {"csrfmiddlewaretoken": csrf(page), "all": "1"})
    assert status(issued["token"]) == 401


def test_changelist_action_revokes_the_selected_users_only(alice, root, revocations_of_admin):
    bob = User.objects.create_user("bob", password="pw")
    carol = User.objects.create_user("carol", password="pw")
    alices = [login(device=name)["token"] for name in ("a", "b")]
    bobs, carols = login("bob", "pw")["token"], login("carol", "pw")["token"]
    client = browser(root)
    changelist = client.get("/admin/auth/user/")
    assert "Revoke all sessions" in changelist.content.decode()
    response = client.post(
        "/admin/auth/user/",
        {
            "csrfmiddlewaretoken": csrf(changelist),
            "action": "redistoken_revoke_all_sessions",
            "_selected_action": [alice.pk, bob.pk],
        },
        follow=True,
    )
    assert "Revoked 3 session(s) of 2 user(s)." in response.content.decode()
    assert [status(t) for t in (*alices, bobs, carols)] == [401, 401, 401, 200]
    assert carol.pk not in {int(uid) for uid, *_ in revocations_of_admin}
    assert {(reason, actor) for _uid, reason, actor in revocations_of_admin} == {("admin", root.pk)}


@pytest.fixture
def revocations_of_admin():
    from redistoken import signals

    seen = []

    def receiver(sender, user_id, session_id, reason, actor, **kwargs):
        seen.append((user_id, reason, getattr(actor, "pk", actor)))

    signals.session_revoked.connect(receiver)
    yield seen
    signals.session_revoked.disconnect(receiver)


def test_password_change_and_deactivation_in_the_admin_end_sessions(alice, root):
    first = login()["token"]
    client = browser(root)
    url = f"/admin/auth/user/{alice.pk}/password/"
    page = client.get(url)
    response = client.post(
        url,
        {
            "csrfmiddlewaretoken": csrf(page),
            "password1": "admin-set-pw-7",
            "password2": "admin-set-pw-7",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert status(first) == 401

    second = login(password="admin-set-pw-7")["token"]
    page = client.get(change_url(alice))
    form = {
        "csrfmiddlewaretoken": csrf(page),
        "username": "alice",
        "first_name": "",
        "last_name": "",
        "email": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
        # is_active left out: the checkbox is unticked
    }
    response = client.post(change_url(alice), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert User.objects.get(pk=alice.pk).is_active is False
    assert status(second) == 401


def test_the_change_page_survives_an_unreachable_redis(alice, root, settings):
    settings.REDISTOKEN = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "SOCKET_TIMEOUT": 0.2}
    page = browser(root).get(change_url(alice))
    assert page.status_code == 200
    assert "Redis cannot answer now" in page.content.decode()


def test_install_extends_the_projects_own_user_admin_once():
    class ProjectUserAdmin(UserAdmin):
        list_display = ("username", "email")

    site = admin.AdminSite(name="project")
    site.register(User, ProjectUserAdmin)
    install(site)
    install(site)
    registered = type(site._registry[User])
    assert issubclass(registered, ProjectUserAdmin) and issubclass(registered, SessionsAdminMixin)
    assert registered.__mro__.count(SessionsAdminMixin) == 1
    assert registered.list_display == ("username", "email")
    assert isinstance(admin.site._registry[User], SessionsAdminMixin)  # the default site, by the app itself
