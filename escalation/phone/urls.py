"""Twilio's webhooks for each call, under /twilio/."""

from __future__ import annotations

from django.urls import path

from escalation.phone import webhooks

app_name = "phone"

urlpatterns = [
    path("voice/<int:attempt_id>/", webhooks.voice, name="voice"),
    path("gather/<int:attempt_id>/", webhooks.gather, name="gather"),
    path("status/<int:attempt_id>/", webhooks.status, name="status"),
]
