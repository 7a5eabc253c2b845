"""Signed-in browser sessions as a test needs them: no second factor passed, one passed some time ago."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.test import Client

from mdrportal.web import second_factor
from tests.factories import login_verified


def session_client_for(user: Any, *, second_factor_age: timedelta | None) -> Client:
    """A client signed in as the user (pages and admin alike). None: no second factor passed in the session;
    a timedelta: the session passed one that long ago."""
    client = Client()
    if second_factor_age is None:
        client.force_login(user)
        return client
    login_verified(client, user)
    session = client.session
    session[second_factor.SESSION_KEY]["at"] = time.time() - second_factor_age.total_seconds()
    session.save()
    return client
