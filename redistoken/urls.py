"""Routes of the HTTP API; ``include("redistoken.urls")`` under any prefix."""

from django.urls import path, re_path

from . import views

app_name = "redistoken"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout-all/", views.LogoutAllView.as_view(), name="logout-all"),
    path("logout-others/", views.LogoutOthersView.as_view(), name="logout-others"),
    path("revoke/", views.RevokeView.as_view(), name="revoke"),
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    re_path(r"^sessions/(?P<session_id>[^/]+)/$", views.SessionDetailView.as_view(), name="session-detail"),
]
