"""The user's token sessions in the Django admin, for the configured user model.

Whatever ``ModelAdmin`` the project registered for its user model (Django's
``UserAdmin`` or its own) gets, through :class:`SessionsAdminMixin`:

* on the change page, the user's live sessions (device, device label, user agent, address,
  created, last used, expiry) with a revoke button for each and one for all;
* on the list, the action "Revoke all sessions" for the selected users.

Both need the ``redistoken.revoke_sessions`` permission, not just staff
status. No token or hash of one is ever shown: the store never returns them.
A project can also mix :class:`SessionsAdminMixin` into its own ``UserAdmin``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import get_template, select_template
from django.urls import path, reverse

from . import store
from .models import may_revoke_sessions

TEMPLATE = "redistoken/admin/user_change_form.html"
UNAVAILABLE = "Redis cannot answer now; sessions are unavailable. Try again shortly."


class SessionsAdminMixin:
    """Adds the sessions section, the revoke view and the bulk action."""

    def _url_name(self, what: str) -> str:
        opts = self.model._meta  # type: ignore[attr-defined]
        return f"{opts.app_label}_{opts.model_name}_{what}"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.redistoken_revoke_view)  # type: ignore[attr-defined]
        own = [path("<path:object_id>/token-sessions/revoke/", view, name=self._url_name("redistoken_revoke"))]
        theirs: list[Any] = super().get_urls()  # type: ignore[misc]
        return own + theirs

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], add: bool = False, change: bool = False, **kwargs: Any
    ) -> Any:
        response = super().render_change_form(request, context, add, change, **kwargs)  # type: ignore[misc]
        obj = kwargs.get("obj")
        if add or obj is None or not may_revoke_sessions(request.user):
            return response
        names = response.template_name
        parent = get_template(names) if isinstance(names, str) else select_template(names)
        try:
            sessions, error = store.list_sessions(obj), ""
        except store.StoreUnavailable:
            sessions, error = [], UNAVAILABLE
        response.context_data.update(
            redistoken_parent_template=parent,
            redistoken_sessions=sessions,
            redistoken_error=error,
            redistoken_revoke_url=reverse(
                f"{self.admin_site.name}:{self._url_name('redistoken_revoke')}",  # type: ignore[attr-defined]
                args=[obj.pk],
            ),
        )
        response.template_name = TEMPLATE
        return response

    def redistoken_revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST ``session=<id>`` or ``all=1``; CSRF-protected by ``admin_view``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not may_revoke_sessions(request.user):
            raise PermissionDenied
        user = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if user is None:
            raise Http404
        try:
            if request.POST.get("all"):
                count = len(store.revoke_all(user, reason=store.Reason.ADMIN, actor=request.user))
                self.message_user(request, f"Revoked {count} session(s).")  # type: ignore[attr-defined]
            elif store.revoke_session(
                user, request.POST.get("session", ""), reason=store.Reason.ADMIN, actor=request.user
            ):
                self.message_user(request, "Session revoked.")  # type: ignore[attr-defined]
            else:
                self.message_user(request, "No such live session.", messages.WARNING)  # type: ignore[attr-defined]
        except store.StoreUnavailable:
            self.message_user(request, UNAVAILABLE, messages.ERROR)  # type: ignore[attr-defined]
        change = reverse(f"{self.admin_site.name}:{self._url_name('change')}", args=[user.pk])  # type: ignore[attr-defined]
        return HttpResponseRedirect(change)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        disabled = self.actions is None or IS_POPUP_VAR in request.GET  # type: ignore[attr-defined]
        if not disabled and may_revoke_sessions(request.user):
            action = self.get_action("redistoken_revoke_all_sessions")  # type: ignore[attr-defined]
            actions[action[1]] = action
        return actions

    @admin.action(description="Revoke all sessions")
    def redistoken_revoke_all_sessions(self, request: HttpRequest, queryset: Any) -> None:
        if not may_revoke_sessions(request.user):
            raise PermissionDenied
        users = list(queryset.values_list("pk", flat=True))
        try:
            count = store.revoke_all_for_users(users, reason=store.Reason.ADMIN, actor=request.user)
        except store.StoreUnavailable:
            self.message_user(request, UNAVAILABLE, messages.ERROR)  # type: ignore[attr-defined]
            return
        self.message_user(request, f"Revoked {count} session(s) of {len(users)} user(s).")  # type: ignore[attr-defined]


def install(site: admin.AdminSite = admin.site) -> None:
    """Give the ``ModelAdmin`` registered for the user model the mixin, keeping
    the class the project chose (idempotent; nothing registered, nothing done)."""
    model = get_user_model()
    current = site._registry.get(model)
    if current is None or isinstance(current, SessionsAdminMixin):
        return
    base = type(current)
    site.unregister(model)
    site.register(model, type(base.__name__, (SessionsAdminMixin, base), {"__module__": base.__module__}))


install()
