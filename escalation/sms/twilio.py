"""The Twilio SMS backend: one text through the SDK's Messages API, from a number or a messaging service."""

from __future__ import annotations

from django.conf import settings
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from escalation.sms.base import SentText, SmsError, TextRequest
from escalation.twilio_http import NO_CLEAR_ANSWER, SENT_NOTHING, DeadlineHttpClient, failure_name
from mdrportal.core.http.transport import DeadlineExceeded


class TwilioSms:
    name = "twilio"

    def __init__(self) -> None:
        self.token = settings.TWILIO_AUTH_TOKEN or ""
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            self.token,
            http_client=DeadlineHttpClient(
                settings.TWILIO_API_BASE_URL, seconds=settings.SMS_TIMEOUT_SECONDS
            ),
        )

    def _sender(self) -> dict[str, str]:
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        return {"from_": settings.TWILIO_MESSAGING_FROM or ""}

    def send(self, request: TextRequest) -> SentText:
        try:
            message = self.client.messages.create(to=request.to, body=request.body, **self._sender())
        except TwilioRestException as error:
            raise SmsError(
                self._scrub(
                    f"Twilio refused the text: HTTP {int(error.status)}, code {error.code}: {error.msg}"
                )
            ) from None
        except DeadlineExceeded:
            raise SmsError(
                f"No complete answer from Twilio within {settings.SMS_TIMEOUT_SECONDS} s: "
                "the text may have been sent."
            ) from None
        except SENT_NOTHING as error:
            raise SmsError(self._scrub(f"Twilio could not be reached: {failure_name(error)}")) from None
        except NO_CLEAR_ANSWER as error:
            raise SmsError(
                self._scrub(
                    f"No clear answer from Twilio ({type(error).__name__}): the text may have been sent."
                )
            ) from None
        if not message.sid:
            raise SmsError("Twilio's answer carried no message sid: the text may have been sent.")
        return SentText(sid=str(message.sid), status=str(message.status or ""))

    def _scrub(self, message: str) -> str:
        """Error texts end up in the timeline: they never carry the auth token, whatever Twilio echoes."""
        if self.token:
            message = message.replace(self.token, "[auth token]")
        return message[:500]
