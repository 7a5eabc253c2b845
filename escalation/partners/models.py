"""Who at the partner acknowledged one of its tasks: the partner's own answer, never the customer's."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from incidents.models import Channel, ResponseAction
from mdrportal.core.append_only import AppendOnlyModel
from tenants.models import Contact


class TaskAcknowledgment(AppendOnlyModel):
    """A partner's contact said "we have this task" (key 1 on the call, a text reply, the link); the
    customer's incident stays unacknowledged."""

    task = models.ForeignKey(ResponseAction, on_delete=models.PROTECT, related_name="task_acknowledgments")
    run = models.ForeignKey(
        "escalation.NotificationRun", on_delete=models.PROTECT, related_name="task_acknowledgments"
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    call = models.ForeignKey(
        "escalation.CallAttempt", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["run"], name="one_task_ack_per_run")]

    def __str__(self) -> str:
        return f"{self.contact} acknowledged task #{self.task_id}"
