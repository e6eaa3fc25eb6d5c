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


class EagerRedisTokenAuthentication(RedisTokenAuthentication):
    user_loading = "eager"


class Ok(APIView):
    def get(self, request: Request) -> Response:
        return Response({"ok": True, "user": request.user.pk})


def view(*classes: type) -> object:
    if not classes:
        return Ok.as_view(authentication_classes=[], permission_classes=[AllowAny])
    return Ok.as_view(authentication_classes=list(classes))


urlpatterns = [
    path("noauth/", view()),
    path("drf/", view(TokenAuthentication)),
    path("knox/", view(KnoxAuthentication)),
    path("jwt/", view(JWTAuthentication)),
    path("jwt-stateless/", view(JWTStatelessUserAuthentication)),
    path("redistoken/", view(RedisTokenAuthentication)),
    path("redistoken-eager/", view(EagerRedisTokenAuthentication)),
]
