from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from redistoken.schema import AUTHENTICATED


class MeView(APIView):
    """Who am I? Answered from the session alone: no database query."""

    @extend_schema(
        summary="The calling user",
        responses={
            200: inline_serializer("Me", {"id": serializers.IntegerField(), "username": serializers.CharField()}),
            **AUTHENTICATED,
        },
    )
    def get(self, request: Request) -> Response:
        return Response({"id": request.user.pk, "username": request.user.get_username()})
