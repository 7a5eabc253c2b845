"""A contact's hours: the weekly windows in which it may be phoned and the periods it is away (part of the
tenants app; tenants.models loads them)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class AvailabilityWindow(models.Model):
    """A weekly stretch of wall-clock time, in its owner's (tenant's or partner's) time zone, in which a
    contact may be phoned.

    A contact without windows may be phoned at any time. An end at or before the start ends the next day
    (22:00-06:00 crosses midnight; 00:00-00:00 is the whole day).
    """

    contact = models.ForeignKey("tenants.Contact", on_delete=models.CASCADE, related_name="windows")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="window_weekday_in_week"),
        ]

    def __str__(self) -> str:
        return f"{Weekday(self.weekday).label} {self.starts:%H:%M}-{self.ends:%H:%M}"


class AwayPeriod(models.Model):
    """A time a contact is away (holiday, leave) and not phoned, whatever its weekly windows say."""

    contact = models.ForeignKey("tenants.Contact", on_delete=models.CASCADE, related_name="away_periods")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="away_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"away {self.starts_at:%Y-%m-%d %H:%M} until {self.ends_at:%Y-%m-%d %H:%M}"
