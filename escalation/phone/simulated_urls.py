"""The simulated phone page, under /dev/phone/ (DEBUG only)."""

from __future__ import annotations

from django.urls import path

from escalation.phone import simulated_page

app_name = "simulated_phone"

urlpatterns = [
    path("", simulated_page.simulated_phone, name="page"),
    path("<int:attempt_id>/<slug:button>/", simulated_page.simulated_phone_press, name="press"),
    path("text/<int:text_id>/<slug:reply>/", simulated_page.simulated_text_reply, name="text_reply"),
]
