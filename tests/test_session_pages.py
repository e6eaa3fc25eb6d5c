"""Session listings honour DRF's ``DEFAULT_PAGINATION_CLASS`` (the caller's and
the staff's); without one they stay the plain list, and the OpenAPI schema
describes whichever shape the settings give."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.pagination import CursorPagination, LimitOffsetPagination, PageNumberPagination
from rest_framework.test import APIClient

from redistoken import store
from redistoken.checks import check_listing_pagination

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]

User = get_user_model()
PAGE_NUMBER = "tests.test_session_pages.PagesOfTwo"
LIMIT_OFFSET = "tests.test_session_pages.LimitOfTwo"
CURSOR = "tests.test_session_pages.CursorOfTwo"


# DRF's classes read PAGE_SIZE once, when rest_framework.pagination is first
# imported: subclasses fix the page size whatever ran first.
class PagesOfTwo(PageNumberPagination):
    page_size = 2


class LimitOfTwo(LimitOffsetPagination):
    default_limit = 2


class CursorOfTwo(CursorPagination):
    page_size = 2


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="pw")


@pytest.fixture
def staff_token():
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="revoke_sessions"))
    return store.issue_token(user).token


def paginate(settings, cls):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_PAGINATION_CLASS": cls}


def sessions_of(user, count):
    """``count`` sessions, the last issued first in the listing (most recently used)."""
    return [store.issue_token(user, device=f"d{n}").token for n in range(count)]


def get(token, path):
    response = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get(path)
    assert response.status_code == 200
    return response.json()


def test_without_a_pagination_class_the_listing_is_the_plain_list(alice, staff_token):
    tokens = sessions_of(alice, 3)
    mine = get(tokens[0], "/auth/sessions/")
    assert isinstance(mine, list) and len(mine) == 3
    assert get(staff_token, f"/auth/users/{alice.pk}/sessions/") == [{**s, "current": False} for s in mine]


def test_page_number_pagination_pages_both_listings(settings, alice, staff_token):
    paginate(settings, PAGE_NUMBER)
    tokens = sessions_of(alice, 5)
    everyone = [s.id for s in store.list_sessions(alice)]
    first = get(tokens[0], "/auth/sessions/")
    assert first["count"] == 5 and first["previous"] is None and first["next"].endswith("/auth/sessions/?page=2")
    assert [s["id"] for s in first["results"]] == everyone[:2]
    last = get(tokens[0], "/auth/sessions/?page=3")
    assert [s["id"] for s in last["results"]] == everyone[4:] and last["next"] is None
    staff_page = get(staff_token, f"/auth/users/{alice.pk}/sessions/?page=2")
    assert staff_page["count"] == 5 and [s["id"] for s in staff_page["results"]] == everyone[2:4]
    out_of_range = APIClient(HTTP_AUTHORIZATION=f"Token {tokens[0]}").get("/auth/sessions/?page=9")
    assert out_of_range.status_code == 404  # DRF's own answer for a page past the end


def test_limit_offset_pagination_and_the_current_flag(settings, alice):
    paginate(settings, LIMIT_OFFSET)
    tokens = sessions_of(alice, 4)
    page = get(tokens[0], "/auth/sessions/?limit=3&offset=1")
    assert page["count"] == 4 and len(page["results"]) == 3
    everything = get(tokens[0], "/auth/sessions/?limit=4")["results"]
    assert [s["current"] for s in everything].count(True) == 1  # the caller's, marked on its page


def test_cursor_pagination_leaves_the_listings_plain_and_the_check_says_so(settings, alice, staff_token):
    assert check_listing_pagination() == []
    paginate(settings, CURSOR)
    tokens = sessions_of(alice, 3)
    mine = get(tokens[0], "/auth/sessions/")  # CursorPagination would order_by() a list: a 500
    assert [s["id"] for s in mine] == [s.id for s in store.list_sessions(alice)]
    assert len(get(staff_token, f"/auth/users/{alice.pk}/sessions/")) == 3
    assert [message.id for message in check_listing_pagination()] == ["redistoken.W004"]
    paginate(settings, PAGE_NUMBER)
    assert check_listing_pagination() == []


def schema():
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def listing_schema(document, path):
    operation = document["paths"][path]["get"]
    return operation, operation["responses"]["200"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize("path", ["/auth/sessions/", "/auth/users/{user_id}/sessions/"])
def test_the_schema_describes_the_plain_list(path):
    operation, body = listing_schema(schema(), path)
    assert body == {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}
    assert not any(p["name"] in ("page", "limit") for p in operation.get("parameters", []))
    assert operation["responses"]["200"]["links"]["EndListedSession"]["parameters"]["session_id"] == (
        "$response.body#/0/id"
    )


@pytest.mark.parametrize("path", ["/auth/sessions/", "/auth/users/{user_id}/sessions/"])
def test_the_schema_describes_the_paginated_listing(settings, path):
    paginate(settings, PAGE_NUMBER)
    document = schema()
    operation, body = listing_schema(document, path)
    page = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert page["properties"]["results"]["items"] == {"$ref": "#/components/schemas/Session"}
    assert {"count", "next", "previous"} <= set(page["properties"])
    assert "page" in {p["name"] for p in operation["parameters"]}
    assert operation["responses"]["200"]["links"]["EndListedSession"]["parameters"]["session_id"] == (
        "$response.body#/results/0/id"
    )
