"""The signed-in person's account page: the time zone the portal shows times in, and the way to the second
factor and API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from mdrportal.core.users import SignedInRequest
from mdrportal.web.access import portal_page
from mdrportal.web.reader_time_zone import reader_zones, reader_zones_forget
from tenants.preferences import user_time_zone_set


class TimeZoneForm(forms.Form):
    time_zone = forms.CharField(
        required=False,
        max_length=64,
        label="Time zone",
        help_text="For example Europe/Berlin or America/New_York. Leave empty for your customer's time zone.",
    )


@never_cache
@portal_page
def account(request: SignedInRequest) -> HttpResponse:
    own, default = reader_zones(request)
    form = TimeZoneForm(request.POST or None, initial={"time_zone": own})
    if request.method == "POST" and form.is_valid():
        try:
            user_time_zone_set(user=request.user, time_zone=form.cleaned_data["time_zone"])
        except ValidationError as error:
            form.add_error("time_zone", error.message_dict.get("time_zone", error.messages))
        else:
            reader_zones_forget(request)
            messages.success(request, "Saved: times are now shown in your chosen time zone.")
            return redirect("account")
    status = 400 if form.errors else 200
    context = {"form": form, "own": own, "default": default}
    return render(request, "pages/account.html", context, status=status)
