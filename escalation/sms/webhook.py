"""Twilio's webhook for a text message that comes in to our number ("a message comes in")."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.twiml.messaging_response import MessagingResponse

from escalation.phone.signature import twilio_signed
from escalation.sms.inbound import InboundText, sms_received


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """Signed by Twilio or refused (403); the answer is TwiML with a short reply to the sender."""
    if not settings.TWILIO_AUTH_TOKEN:
        raise Http404("Twilio is not configured.")
    if not twilio_signed(request):
        return HttpResponseForbidden("Bad signature.")
    reply = sms_received(
        InboundText(
            sender=request.POST.get("From", ""),
            body=request.POST.get("Body", ""),
            sid=request.POST.get("MessageSid", "")[:64],
        )
    )
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return HttpResponse(str(response), content_type="text/xml; charset=utf-8")
