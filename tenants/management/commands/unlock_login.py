"""Lift the failed sign-in lock on a username, from every address (for a person locked out by others)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from mdrportal.web.login_guard import login_unlock


class Command(BaseCommand):
    help = "Unlock sign-in for a username: lifts its failed sign-in locks and counts from every address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        if not get_user_model().objects.filter(username__iexact=username.strip()).exists():
            raise CommandError(f"No user named {username!r}.")
        lifted = login_unlock(username=username)
        self.stdout.write(
            f"{username}: sign-in unlocked ({lifted} address{'es' if lifted != 1 else ''} cleared)."
        )
