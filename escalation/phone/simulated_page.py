"""The simulated phone page (DEBUG only): the calls ringing on the embedded default, and buttons that answer
them as a person or a carrier would, through the same call updates Twilio's webhooks make; and the texts
sent, with buttons that reply to them as their owner would."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from escalation import selectors
from escalation.calls.progress import call_update
from escalation.models import CallOutcome
from escalation.phone import twiml
from escalation.sms.inbound import InboundText, sms_received

P = ParamSpec("P")

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


def debug_only(
    view: Callable[Concatenate[HttpRequest, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    @wraps(view)
    def checked(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
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
        return redirect("simulated_phone:page")
    for update in updates:
        call_update(attempt_id=call.pk, **update)
    messages.success(request, f"Call {call.pk} to {call.to}: {label.lower()}.")
    return redirect("simulated_phone:page")


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
    if reply == "ack" and text.reply_code:
        body = f"1 {text.reply_code}"  # the code the text told: a bare 1 is refused when the number has two
    answer = sms_received(InboundText(sender=text.to, body=body, sid=f"SIMIN{text.pk}"))
    messages.success(request, f"{text.to} replied {body}; MDR Ops answered: {answer}")
    return redirect("simulated_phone:page")
