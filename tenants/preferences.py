"""A person's own settings for reading the portal: the time zone times are shown in, by default the
customer's (for MDR staff without a customer, the portal's)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User
from tenants.models import Tenant, UserPreferences, validate_timezone
from tenants.selectors import tenants_for_user


def own_time_zone(user: User) -> str:
    """The zone the person chose, or "" for the default."""
    return UserPreferences.objects.filter(user=user).values_list("time_zone", flat=True).first() or ""


def default_time_zone(user: User, tenant: Tenant | None = None) -> str:
    """Without a choice of one's own: the tenant's zone (the one acted for, else the first of the person's),
    else the portal's."""
    tenant = tenant or tenants_for_user(user).order_by("name", "pk").first()
    return tenant.timezone if tenant is not None else settings.TIME_ZONE


def time_zone_of(user: User, tenant: Tenant | None = None) -> str:
    """The zone the person reads times in."""
    return own_time_zone(user) or default_time_zone(user, tenant)


@retried_atomic
def user_time_zone_set(*, user: User, time_zone: str) -> UserPreferences:
    """Choose the zone times are shown in; "" goes back to the default."""
    value = time_zone.strip()
    if value:
        try:
            validate_timezone(value)
        except ValidationError as error:
            raise ValidationError({"time_zone": error.messages}, code="unknown_time_zone") from error
    preferences, _ = UserPreferences.objects.select_for_update(no_key=True).get_or_create(user=user)
    preferences.time_zone = value
    preferences.save(update_fields=["time_zone"])
    return preferences
