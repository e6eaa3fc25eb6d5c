"""One trivial DRF view per scheme; only the authentication class differs.

The view reads ``request.user.pk`` and nothing else, so a scheme that can
answer it without loading the user (redistoken's lazy user, simplejwt's
stateless user) shows that saving.
"""

from django.urls import path
from knox.auth import TokenAuthentication as KnoxAuthentication
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication

from redistoken.authentication import RedisTokenAuthentication
from redistoken.connection import get_client


class EagerRedisTokenAuthentication(RedisTokenAuthentication):
    user_loading = "eager"


class Ok(APIView):
    def get(self, request: Request) -> Response:
        return Response({"ok": True, "user": request.user.pk})


class OkAfterOneGet(Ok):
    """The same view after one plain Redis GET (same client, same server as
    redistoken's): the price of one round trip as a request pays it, with
    the Redis server idle between requests rather than in a tight loop."""

    def get(self, request: Request) -> Response:
        get_client().get("rtb:absent")
        return super().get(request)


def view(*classes: type, base: type[Ok] = Ok) -> object:
    if not classes:
        return base.as_view(authentication_classes=[], permission_classes=[AllowAny])
    return base.as_view(authentication_classes=list(classes))


urlpatterns = [
    path("noauth/", view()),
    path("drf/", view(TokenAuthentication)),
    path("knox/", view(KnoxAuthentication)),
    path("jwt/", view(JWTAuthentication)),
    path("jwt-stateless/", view(JWTStatelessUserAuthentication)),
    path("jwt-stateless-get/", view(JWTStatelessUserAuthentication, base=OkAfterOneGet)),
    path("redistoken/", view(RedisTokenAuthentication)),
    path("redistoken-eager/", view(EagerRedisTokenAuthentication)),
]
