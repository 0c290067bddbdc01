"""`POST /alerts/alertmanager`: Prometheus Alertmanager's webhook receiver.

The only module of `bot.alerts` that imports Starlette: it authenticates, reads a bounded body
and hands it to `AlertIntake`. Answers are for Alertmanager and the person configuring it:
401 (credentials), 413 (too big), 400 (not a notification, naming the field), 503 (storage
unavailable: Alertmanager retries), 200 with what happened otherwise. Never 500.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.alerts.intake import AlertIntake, IntakeUnavailable
from bot.alerts.payload import PayloadError
from bot.request_body import BodyTooLarge, read_body

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4_000_000
PATH = "/alerts/alertmanager"


class WebhookAuth:
    """Bearer token or basic auth, as Alertmanager's `http_config` sends them."""

    def __init__(
        self, *, token: str | None, user: str | None = None, password: str | None = None
    ) -> None:
        self.token = (token or "").encode()
        self.user = (user or "").encode()
        self.password = (password or "").encode()

    @property
    def configured(self) -> bool:
        return bool(self.token or self.user)

    def check(self, header: str | None) -> str | None:
        """None when the Authorization header is good, else why not."""
        if not self.configured:
            return (
                "the alert webhook is not configured: set ALERT_WEBHOOK_TOKEN "
                "(or ALERT_WEBHOOK_USER and ALERT_WEBHOOK_PASSWORD)"
            )
        if not header:
            return "missing Authorization header"
        scheme, _, credentials = header.strip().partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and self.token:
            if hmac.compare_digest(credentials.encode(), self.token):
                return None
            return "wrong bearer token"
        if scheme == "basic" and self.user:
            try:
                user, _, password = base64.b64decode(credentials, validate=True).partition(b":")
            except (binascii.Error, ValueError):
                return "malformed basic credentials"
            good_user = hmac.compare_digest(user, self.user)
            good_password = hmac.compare_digest(password, self.password)
            return None if good_user and good_password else "wrong user or password"
        return "unsupported Authorization scheme"


def _error(status: int, message: str, **headers: str) -> Response:
    return JSONResponse(
        {"status": "rejected", "error": message}, status_code=status, headers=headers
    )


def alertmanager_route(intake: AlertIntake, auth: WebhookAuth) -> Route:
    async def receive(request: Request) -> Response:
        problem = auth.check(request.headers.get("authorization"))
        if problem is not None:
            return _error(401, problem, **{"WWW-Authenticate": 'Bearer realm="alerts"'})
        try:
            body = await read_body(request, limit=MAX_BODY_BYTES)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        try:
            result = await intake.deliver_json(body)
        except PayloadError as exc:
            return _error(400, str(exc))
        except IntakeUnavailable as exc:
            return _error(503, f"could not store the notification, try again ({exc})")
        except Exception:
            log.exception("alert notification failed")
            return _error(503, "internal problem while storing the notification, try again")
        return JSONResponse(result.as_json())

    return Route(PATH, receive, methods=["POST"])
