"""Test URLs: the demo's, plus a view that only reads ``request.user.pk``."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from demo.urls import urlpatterns as demo_urlpatterns


class WhoAmI(APIView):
    def get(self, request):
        return Response({"pk": request.user.pk})


urlpatterns = [*demo_urlpatterns, path("whoami/", WhoAmI.as_view())]
