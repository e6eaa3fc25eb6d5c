"""Test URLs: the demo's, plus a view that only reads ``request.user.pk``, a
password-change endpoint, views authenticated as during a migration from DRF
tokens and from knox, and knox's own routes."""

from django.urls import include, path
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.authentication import TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from demo.urls import urlpatterns as demo_urlpatterns
from redistoken.authentication import RedisTokenAuthentication


class WhoAmI(APIView):
    def get(self, request):
        return Response({"pk": request.user.pk})


class ChangePassword(APIView):
    """What a project's own password-change endpoint typically does."""

    def post(self, request):
        request.user.set_password(request.data["password"])
        request.user.save()
        return Response(status=204)


class TransitionWhoAmI(WhoAmI):
    """During a migration from DRF tokens: redistoken first, DRF's class after it."""

    authentication_classes = [RedisTokenAuthentication, TokenAuthentication]


class KnoxTransitionWhoAmI(WhoAmI):
    """During a migration from knox (docs/migrating-knox.md): redistoken first."""

    authentication_classes = [RedisTokenAuthentication, KnoxTokenAuthentication]


urlpatterns = [
    *demo_urlpatterns,
    path("whoami/", WhoAmI.as_view()),
    path("change-password/", ChangePassword.as_view()),
    path("transition/whoami/", TransitionWhoAmI.as_view()),
    path("knox-transition/whoami/", KnoxTransitionWhoAmI.as_view()),
    path("knox/", include("knox.urls")),
]
