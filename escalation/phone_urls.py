"""Twilio's webhooks for each call, and the simulated phone page (debug only)."""

from __future__ import annotations

from django.urls import path

from escalation import phone_views, sms_views

app_name = "phone"

urlpatterns = [
    path("twilio/voice/<int:attempt_id>/", phone_views.voice, name="voice"),
    path("twilio/gather/<int:attempt_id>/", phone_views.gather, name="gather"),
    path("twilio/status/<int:attempt_id>/", phone_views.status, name="status"),
    path("twilio/sms/", sms_views.sms_inbound, name="sms"),
    path("dev/phone/", phone_views.simulated_phone, name="simulated"),
    path("dev/phone/<int:attempt_id>/<slug:button>/", phone_views.simulated_phone_press, name="press"),
    path("dev/phone/text/<int:text_id>/<slug:reply>/", phone_views.simulated_text_reply, name="text_reply"),
]
