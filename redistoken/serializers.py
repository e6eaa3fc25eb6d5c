"""Request and response shapes of the HTTP API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from rest_framework import serializers

from .settings import token_settings
from .store.records import DEVICE_MAX_BYTES
from .throttling import login_attempt

GENERIC_LOGIN_ERROR = _("Unable to log in with the provided credentials.")


class LoginSerializer(serializers.Serializer[Any]):
    """Username and password; an unknown user, a wrong password and an
    inactive user all give the same error."""

    username = serializers.CharField(min_length=1, max_length=254, trim_whitespace=False)
    password = serializers.CharField(
        min_length=1, max_length=4096, trim_whitespace=False, style={"input_type": "password"}
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        """The declared fields plus ``device``, bounded by ``DEVICE_NAME_MAX_LENGTH``
        (read when the serializer is used, so it follows the setting)."""
        fields = super().get_fields()
        fields["device"] = serializers.CharField(
            max_length=token_settings.DEVICE_NAME_MAX_LENGTH, required=False, allow_blank=True, default=""
        )
        return fields

    def validate_device(self, value: str) -> str:
        if len(value.encode("utf-8")) > DEVICE_MAX_BYTES:
            raise serializers.ValidationError(f"Ensure this field has no more than {DEVICE_MAX_BYTES} bytes (UTF-8).")
        return value

    @sensitive_variables("attrs")
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Check the password under the login throttle, keyed on the username
        as validated here (a JSON number arrives as its text)."""
        request = self.context["request"]
        with login_attempt(request, attrs["username"]):
            user = authenticate(request, username=attrs["username"], password=attrs["password"])
            if user is None or not getattr(user, "is_active", True):
                raise serializers.ValidationError(GENERIC_LOGIN_ERROR, code="authorization")
        attrs["user"] = user
        return attrs


class SessionSerializer(serializers.Serializer[Any]):
    """A session as its owner sees it: never a token or a hash of one."""

    id = serializers.CharField()
    created = serializers.DateTimeField()
    last_used = serializers.DateTimeField()
    expires_in = serializers.IntegerField()
    user_agent = serializers.CharField(help_text="The raw user agent; empty unless STORE_USER_AGENT is set.")
    ip = serializers.CharField()
    device = serializers.CharField(help_text="The device name the client gave at login.")
    device_label = serializers.CharField(help_text='Computed from the user agent at login, e.g. "Chrome 131 on macOS".')
    current = serializers.SerializerMethodField()

    def get_current(self, session: Any) -> bool:
        current = self.context.get("current_session_id")
        return current is not None and session.id == current


class TokenResponseSerializer(serializers.Serializer[Any]):
    """RFC 6749 section 5.1 token response, plus the new session.

    ``access_token`` is the RFC 6749 name; ``token`` carries the same value
    under the name DRF's ``obtain_auth_token`` and knox use.
    """

    access_token = serializers.CharField()
    token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    session = SessionSerializer()


class RevocationSerializer(serializers.Serializer[Any]):
    """RFC 7009: the token to revoke."""

    token = serializers.CharField(min_length=1, max_length=512, trim_whitespace=True)
    token_type_hint = serializers.CharField(max_length=64, required=False)
