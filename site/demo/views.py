from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularRedocView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import redistoken
from redistoken import connection as redis_connection
from redistoken import store
from redistoken.schema import AUTHENTICATED
from redistoken.settings import DOCS_URL


def index(request: HttpRequest) -> HttpResponse:
    """The landing page: what the demo serves, and the walk-through."""
    context = {
        "version": redistoken.__version__,
        "embedded": redis_connection.is_embedded(),
        "docs_url": DOCS_URL,
        "base": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "demo/index.html", context)


class RedocView(SpectacularRedocView):
    """Redoc without the Google Fonts links of drf-spectacular's page."""

    template_name = "demo/redoc.html"


class MeView(APIView):
    """Who am I? The id comes from the session; reading the username loads
    the user (one database query). A view reading only ``request.user.pk``
    makes none."""

    @extend_schema(
        summary="The calling user",
        responses={
            200: inline_serializer("Me", {"id": serializers.IntegerField(), "username": serializers.CharField()}),
            **AUTHENTICATED,
        },
    )
    def get(self, request: Request) -> Response:
        return Response({"id": request.user.pk, "username": request.user.get_username()})


HEALTH = inline_serializer("Health", {"status": serializers.ChoiceField(choices=["ok", "unavailable"])})


class HealthView(APIView):
    """For load balancers and the compose health check: can the demo reach
    its database and Redis?"""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health",
        responses={200: HEALTH, 503: OpenApiResponse(HEALTH, description="The database or Redis cannot answer.")},
    )
    def get(self, request: Request) -> Response:
        try:
            with store.unavailable_as_error():
                redis_connection.get_client().ping()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except (DatabaseError, store.StoreUnavailable):
            return Response({"status": "unavailable"}, status=503)
        return Response({"status": "ok"})
