"""``user_loading`` on a subclass of the authentication class overrides the
``USER_LOADING`` setting for the views using it (the benchmark's eager row)."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from redistoken import store
from redistoken.authentication import RedisTokenAuthentication

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


class EagerAuthentication(RedisTokenAuthentication):
    user_loading = "eager"


class WhoAmI(APIView):
    def get(self, request: Request) -> Response:
        return Response({"pk": request.user.pk, "type": type(request.user).__name__})


def call(classes: list, token: str) -> Response:
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {token}")
    return WhoAmI.as_view(authentication_classes=classes)(request)


def test_eager_subclass_loads_and_checks_the_user_while_the_setting_stays_lazy():
    user = get_user_model().objects.create_user("alice", password="pw")
    token = store.issue_token(user).token
    assert call([EagerAuthentication], token).data == {"pk": user.pk, "type": "User"}
    assert call([RedisTokenAuthentication], token).data == {"pk": user.pk, "type": "LazyUser"}
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert call([EagerAuthentication], token).status_code == 401
    assert call([RedisTokenAuthentication], token).status_code == 200  # pk only: never loaded
