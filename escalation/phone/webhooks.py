"""Twilio's webhooks for a call: the TwiML it speaks, the key pressed, its status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from escalation import selectors
from escalation.calls.progress import call_update
from escalation.models import Acknowledgment, CallAttempt, TaskAcknowledgment
from escalation.phone import twiml
from escalation.phone.registry import twilio_configured
from escalation.phone.signature import twilio_signed
from escalation.phone.twilio import webhook_url

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
        if selectors.call_is_partner_task(call.pk):
            recorded = TaskAcknowledgment.objects.filter(call_id=call.pk).exists()
            return _twiml(twiml.task_acknowledged_twiml(recorded=recorded))
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
