from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import HealthView, MeView, RedocView, index

urlpatterns = [
    path("", index, name="index"),
    path("health/", HealthView.as_view(), name="health"),
    path("admin/", admin.site.urls),
    path("auth/", include("redistoken.urls")),
    path("api/me/", MeView.as_view(), name="me"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
]
