"""Create the demo user once, and tell its password."""

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Create the demo user 'demo' with a random password, once, and print it. The password is kept in "
        "DEMO_PASSWORD_FILE and left alone on later runs, so restarts keep the user's sessions."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--show", action="store_true", help="Print the password even if the user exists.")
        parser.add_argument(
            "--reset", action="store_true", help="Set a new random password (this ends the user's sessions)."
        )

    def handle(self, *args: Any, show: bool = False, reset: bool = False, **options: Any) -> None:
        path = Path(settings.DEMO_PASSWORD_FILE)
        known = "" if reset or not path.exists() else path.read_text().strip()
        model = get_user_model()
        user = model._default_manager.filter(username=USERNAME).first()
        if user is not None and known and user.check_password(known):
            if show:
                self.stdout.write(f"Demo user: username={USERNAME} password={known}")
            else:
                self.stdout.write(f"Demo user: username={USERNAME} (password unchanged: manage.py demo_user --show)")
            return
        password = known or secrets.token_urlsafe(12)
        user = user or model(username=USERNAME)
        user.set_password(password)
        user.is_active = True
        user.save()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
        os.chmod(path, 0o600)
        self.stdout.write(f"Demo user: username={USERNAME} password={password}")
