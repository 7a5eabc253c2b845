"""What operations needs stored: the periodic jobs' heartbeats."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time one periodic job (a sweeper) finished, so health checks can tell it still runs."""

    name = models.CharField(max_length=64, unique=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
