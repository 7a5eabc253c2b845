"""Who works in the admin: the admin site lets in only signed-in, active MDR staff."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from mdrportal.core.users import User


def admin_user(request: HttpRequest) -> User:
    """The signed-in user behind an admin request, for the admin's own hooks (save_model, list filters), whose
    request the admin site checked before calling them."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied  # never reached: the admin site lets no anonymous visitor in
    return user
