"""Who acts, as the type checker sees them: the user model, a visitor who may not be signed in, and the requests
behind sign-in whose user is a `User`."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest
from rest_framework.request import Request

__all__ = ["AnyUser", "SignedInApiRequest", "SignedInRequest", "User"]

# Whoever sent a request: signed in, or not yet.
AnyUser = User | AnonymousUser


class SignedInRequest(HttpRequest):
    """A page's request behind `login_required`: its user is signed in."""

    user: User


class SignedInApiRequest(Request):
    """An API request behind `IsAuthenticated`: its user is signed in."""

    user: User
