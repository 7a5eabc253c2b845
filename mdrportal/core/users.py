"""Who acts, as the type checker sees them: the user model, a visitor who may not be signed in, and the requests
behind sign-in whose user is a `User`."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request

__all__ = ["AnyUser", "SignedInApiRequest", "SignedInRequest", "User", "signed_in_user"]

# Whoever sent a request: signed in, or not yet.
AnyUser = User | AnonymousUser


class SignedInRequest(HttpRequest):
    """A page's request behind `login_required`: its user is signed in."""

    user: User


class SignedInApiRequest(Request):
    """An API request behind `IsAuthenticated`: its user is signed in."""

    user: User


def signed_in_user(request: HttpRequest) -> User:
    """The signed-in user behind a request that only signed-in users reach (the admin's hooks and actions, whose
    site lets in only active staff): anyone else is refused, never taken for a user."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
