"""The TwiML documents a Twilio call runs, and the words the call says (the simulated phone shows the same)."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from escalation.reader import ReaderCan, acknowledged_line
from escalation.selectors import CallScript

GATHER_TIMEOUT_SECONDS = 8
# Long summaries and hashes are unbearable when spoken; the email carries the whole text.
MAX_SUMMARY_CHARS = 400
MAX_TARGET_CHARS = 32
NOT_RECORDED = (
    "This call could not record an acknowledgment. Please acknowledge with the emailed link or in the portal. "
    "Goodbye."
)
ONLY_ONE = "Only the key 1 acknowledges."
PRESS_ONE = "Press 1 to acknowledge."
TEST_CALL = "This is a test call from MDR Ops for {tenant}. Press 1 to confirm you can hear this message."
TEST_CONFIRMED = "Thank you: the test call worked. Goodbye."
TASK_ACKNOWLEDGED = (
    "Task acknowledged for your team. The customer's incident is not acknowledged by this call."
)
PRESS_ONE_TASK = "Press 1 to acknowledge this task for your team."


def _sentence(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "..."
    return text.rstrip(" .!?;:")


def _target(target: str) -> str:
    return target if len(target) <= MAX_TARGET_CHARS else f"{target[:12]}..."


def script_text(script: CallScript) -> str:
    """The words of one call: the tenant, the incident, then what was done or the summary, then press 1."""
    if script.is_test:
        return TEST_CALL.format(tenant=_sentence(script.tenant, 200))
    if script.task:
        return task_text(script)
    parts = [
        f"MDR Ops security alert for {_sentence(script.tenant, 200)}.",
        f"{script.severity} incident: {_sentence(script.title, 200)}.",
    ]
    if script.tells_what_was_done and script.done:
        done = "; ".join(f"{d.action} on {_target(d.target)}: {d.status.lower()}" for d in script.done)
        if script.told:
            parts.append(script.told)
        parts.append(f"MDR Ops has taken these actions: {done}.")
    elif script.summary.strip():
        parts.append(f"{_sentence(script.summary, MAX_SUMMARY_CHARS)}.")
    parts.append(script.ask or PRESS_ONE)
    return " ".join(parts)


def task_text(script: CallScript) -> str:
    """The words of the partner's call: which customer, which incident, which task, then press 1."""
    return " ".join(
        [
            f"MDR Ops task for {_sentence(script.partner, 200)}.",
            f"Customer: {_sentence(script.tenant, 200)}.",
            f"{script.severity} incident number {script.incident_id}: {_sentence(script.title, 200)}.",
            f"Your task: {_sentence(script.task, 200)}.",
            PRESS_ONE_TASK,
        ]
    )


def voicemail_text(script: CallScript) -> str:
    """What an answering machine hears: no incident details on a recording anyone may play."""
    if script.is_test:
        return (
            f"This is a test call from MDR Ops for {_sentence(script.tenant, 200)}. Nothing to do. Goodbye."
        )
    return (
        f"This is MDR Ops with a security alert for {_sentence(script.tenant, 200)}. "
        "Please read your email or the MDR portal now. Goodbye."
    )


def _gather(response: VoiceResponse, action: str, text: str) -> None:
    gather = response.gather(num_digits=1, action=action, method="POST", timeout=GATHER_TIMEOUT_SECONDS)
    gather.say(text)


def call_twiml(script: CallScript, *, gather_url: str) -> str:
    """The call: the script inside a one-digit Gather, once more if no key came, then goodbye."""
    response = VoiceResponse()
    text = script_text(script)
    _gather(response, gather_url, text)
    _gather(response, gather_url, text)
    response.say("Goodbye.")
    response.hangup()
    return str(response)


def voicemail_twiml(script: CallScript) -> str:
    response = VoiceResponse()
    response.say(voicemail_text(script))
    response.hangup()
    return str(response)


def acknowledged_twiml(*, recorded: bool, can: ReaderCan = ReaderCan.AUTHORIZE) -> str:
    response = VoiceResponse()
    response.say(f"{acknowledged_line(can)} Goodbye." if recorded else NOT_RECORDED)
    response.hangup()
    return str(response)


def task_acknowledged_twiml(*, recorded: bool) -> str:
    """A 1 pressed by the partner's contact: the task is theirs now; the customer's incident is not touched."""
    response = VoiceResponse()
    response.say(f"{TASK_ACKNOWLEDGED} Goodbye." if recorded else NOT_RECORDED)
    response.hangup()
    return str(response)


def heard_twiml() -> str:
    """A 1 pressed on a test call: it confirms the number works and acknowledges nothing."""
    response = VoiceResponse()
    response.say(TEST_CONFIRMED)
    response.hangup()
    return str(response)


def wrong_key_twiml(*, gather_url: str | None) -> str:
    """Another key: say that only 1 acknowledges and listen once more, or (the second time) say goodbye."""
    response = VoiceResponse()
    if gather_url is None:
        response.say(f"{ONLY_ONE} Goodbye.")
    else:
        _gather(response, gather_url, f"{ONLY_ONE} {PRESS_ONE}")
        response.say("Goodbye.")
    response.hangup()
    return str(response)
