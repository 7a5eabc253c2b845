"""The second-factor page: enrolment (secret, QR code, recovery codes) the first time, the check after."""

from __future__ import annotations

import base64

import segno
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from mdrportal.core.users import SignedInRequest
from mdrportal.web.second_factor import (
    enrolment_device,
    mark_verified,
    second_factor_check,
    second_factor_enrol,
    totp_device,
)

WRONG_CODE = "That code is not right, has been used already, or came too late. Try the next one."


class CodeForm(forms.Form):
    code = forms.CharField(label="Code", max_length=32, strip=True)


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or "/"
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure())
    return wanted if safe else "/"


@never_cache
@login_required
def second_factor(request: SignedInRequest) -> HttpResponse:
    user = request.user
    next_url = _next(request)
    context: dict[str, object] = {"next": next_url, "step_up": bool(request.GET.get("step_up"))}
    form = CodeForm(request.POST or None)
    device = totp_device(user)
    if device is not None:
        if request.method == "POST" and form.is_valid():
            matched = second_factor_check(user=user, token=form.cleaned_data["code"])
            if matched is not None:
                mark_verified(request, matched)
                return redirect(next_url)
            form.add_error("code", WRONG_CODE)
        status = 400 if form.errors else 200
        return render(request, "registration/second_factor.html", {**context, "form": form}, status=status)

    enrolling = enrolment_device(user)
    if request.method == "POST" and form.is_valid():
        codes = second_factor_enrol(user=user, device=enrolling, token=form.cleaned_data["code"])
        if codes is not None:
            mark_verified(request, enrolling)
            return render(request, "registration/recovery_codes.html", {**context, "codes": codes})
        form.add_error("code", WRONG_CODE)
    context.update(
        form=form,
        secret=base64.b32encode(enrolling.bin_key).decode(),
        qr=segno.make(enrolling.config_url, error="m").svg_data_uri(scale=4),
    )
    return render(
        request, "registration/second_factor_enrol.html", context, status=400 if form.errors else 200
    )
