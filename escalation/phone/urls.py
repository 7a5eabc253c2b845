"""Twilio's webhooks for each call, and for a text that comes in, under /twilio/."""

from __future__ import annotations

from django.urls import path

from escalation.phone import webhooks
from escalation.sms import webhook as sms_webhook

app_name = "phone"

urlpatterns = [
    path("voice/<int:attempt_id>/", webhooks.voice, name="voice"),
    path("gather/<int:attempt_id>/", webhooks.gather, name="gather"),
    path("status/<int:attempt_id>/", webhooks.status, name="status"),
    path("sms/", sms_webhook.sms_inbound, name="sms"),
]
