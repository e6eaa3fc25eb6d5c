"""Create (or reset) the demo user and print its credentials."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or reset the demo user 'demo' with a fresh random password and print it."

    def handle(self, *args: Any, **options: Any) -> None:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model()._default_manager.get_or_create(username="demo")
        user.set_password(password)
        user.is_active = True
        user.save()
        self.stdout.write(f"Demo user: username=demo password={password}")
