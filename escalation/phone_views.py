"""Twilio's webhooks for a call (TwiML, key pressed, status) and the simulated phone page for development."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from escalation import selectors, twiml
from escalation.models import Acknowledgment, CallAttempt, CallOutcome
from escalation.phone.registry import twilio_configured
from escalation.phone.signature import twilio_signed
from escalation.phone.twilio import webhook_url
from escalation.progress import call_update
from escalation.sms.inbound import InboundText, sms_received

log = logging.getLogger(__name__)

TwilioView = Callable[[HttpRequest, CallAttempt], HttpResponse]


def _twiml(document: str) -> HttpResponse:
    return HttpResponse(document, content_type="text/xml; charset=utf-8")


def _param(request: HttpRequest, name: str) -> str | None:
    return request.POST.get(name) or None


def twilio_webhook(view: TwilioView) -> Callable[..., HttpResponse]:
    """Only Twilio, for a call it placed, gets past here: signature, then the call's own sid."""

    @csrf_exempt
    @require_POST
    @wraps(view)
    def checked(request: HttpRequest, attempt_id: int) -> HttpResponse:
        if not twilio_configured():
            raise Http404("Twilio is not configured.")
        if not twilio_signed(request):
            return HttpResponseForbidden("Bad signature.")
        call = selectors.call_for_webhook(attempt_id)
        if call is None:
            raise Http404("No such call.")
        if call.provider_sid and request.POST.get("CallSid") != call.provider_sid:
            log.warning("Twilio webhook refused: CallSid does not match call %s", attempt_id)
            return HttpResponseForbidden("Not this call.")
        return view(request, call)

    return checked


@twilio_webhook
def voice(request: HttpRequest, call: CallAttempt) -> HttpResponse:
    """The call was answered: what it says, inside a Gather for the key 1."""
    status, answered_by = _param(request, "CallStatus"), _param(request, "AnsweredBy")
    if status or answered_by:
        call_update(attempt_id=call.pk, status=status, answered_by=answered_by)
    script = selectors.call_script(call.pk)
    if script is None:
        raise Http404("No such call.")
    if answered_by and answered_by.startswith(("machine", "fax")):
        return _twiml(twiml.voicemail_twiml(script))
    return _twiml(twiml.call_twiml(script, gather_url=webhook_url("gather", call.pk)))


@twilio_webhook
def gather(request: HttpRequest, call: CallAttempt) -> HttpResponse:
    """A key was pressed: 1 acknowledges (on a test call, confirms it was heard); any other gets one more chance."""
    digits = (request.POST.get("Digits") or "").strip()
    if digits == "1":
        call_update(attempt_id=call.pk, digits="1")
        if call.is_test:
            return _twiml(twiml.heard_twiml())
        recorded = Acknowledgment.objects.filter(call_id=call.pk).exists()
        return _twiml(twiml.acknowledged_twiml(recorded=recorded, can=selectors.call_reader_can(call.pk)))
    again = None if request.GET.get("again") else webhook_url("gather", call.pk) + "?again=1"
    return _twiml(twiml.wrong_key_twiml(gather_url=again))


@twilio_webhook
def status(request: HttpRequest, call: CallAttempt) -> HttpResponse:
    """A call status: ringing, answered, and how it ended."""
    call_update(
        attempt_id=call.pk, status=_param(request, "CallStatus"), answered_by=_param(request, "AnsweredBy")
    )
    return HttpResponse(status=204)


# The simulated phone: what each button makes "the phone" report, in order.
SIMULATED_BUTTONS: dict[str, tuple[str, list[dict[str, str]]]] = {
    "answer-press-1": (
        "Answer and press 1",
        [{"status": "in-progress", "answered_by": "human"}, {"digits": "1"}, {"status": "completed"}],
    ),
    "answer-no-key": (
        "Answer, hang up without a key",
        [{"status": "in-progress", "answered_by": "human"}, {"status": "completed"}],
    ),
    "voicemail": (
        "Voicemail picks up",
        [{"status": "in-progress", "answered_by": "machine_end_beep"}, {"status": "completed"}],
    ),
    "busy": ("Busy", [{"status": "busy"}]),
    "ring": ("Let it ring", []),
}


# The simulated phone's replies to a text, as its owner would type them.
SIMULATED_TEXT_REPLIES = {"ack": "1", "stop": "STOP", "start": "START"}


def debug_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.DEBUG:
            raise Http404("The simulated phone exists only with DEBUG on.")
        return view(request, *args, **kwargs)

    return checked


@debug_only
@staff_member_required
@never_cache
@require_GET
def simulated_phone(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dev/phone.html",
        {
            "ringing": [
                (ringing, twiml.script_text(ringing.script))
                for ringing in selectors.simulated_calls_ringing()
            ],
            "ended": selectors.simulated_calls_ended(),
            "buttons": [(key, label) for key, (label, _) in SIMULATED_BUTTONS.items()],
            "texts": selectors.simulated_texts(),
            "text_replies": [(key, f"Reply {body}") for key, body in SIMULATED_TEXT_REPLIES.items()],
        },
    )


@debug_only
@staff_member_required
@require_POST
def simulated_phone_press(request: HttpRequest, attempt_id: int, button: str) -> HttpResponse:
    if button not in SIMULATED_BUTTONS:
        raise Http404("No such button.")
    call = selectors.simulated_call(attempt_id)
    if call is None:
        raise Http404("No such simulated call.")
    label, updates = SIMULATED_BUTTONS[button]
    if call.outcome != CallOutcome.DIALING:
        messages.warning(request, f"Call {call.pk} had already ended ({call.get_outcome_display().lower()}).")
        return redirect("phone:simulated")
    for update in updates:
        call_update(attempt_id=call.pk, **update)
    messages.success(request, f"Call {call.pk} to {call.to}: {label.lower()}.")
    return redirect("phone:simulated")


@debug_only
@staff_member_required
@require_POST
def simulated_text_reply(request: HttpRequest, text_id: int, reply: str) -> HttpResponse:
    """Reply to a simulated text as its owner would: the same handling as a text that comes in by Twilio."""
    if reply not in SIMULATED_TEXT_REPLIES:
        raise Http404("No such reply.")
    text = selectors.simulated_text(text_id)
    if text is None:
        raise Http404("No such simulated text.")
    body = SIMULATED_TEXT_REPLIES[reply]
    answer = sms_received(InboundText(sender=text.to, body=body, sid=f"SIMIN{text.pk}"))
    messages.success(request, f"{text.to} replied {body}; MDR Ops answered: {answer}")
    return redirect("phone:simulated")
