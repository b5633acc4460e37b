"""Loopback alert receivers: an HTTP server that records webhook bodies and a real SMTP server (aiosmtpd).

Both listen on free loopback ports in threads of the test process, so the alert channels are exercised end
to end (sockets, HTTP status handling, the SMTP dialogue with AUTH) with nothing leaving the machine.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ysh_assets_tests.conftest import free_port


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON


class HttpReceiver:
    """`with HttpReceiver() as hook:` then post to `hook.url`; every POST is kept in `requests`.

    `status` is what it answers (set 500 to play a failing webhook).
    """

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("receiver is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/hooks/T000/B000/token"

    def bodies(self) -> list[Any]:
        with self._lock:
            return [request.body for request in self.requests]

    def __enter__(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with receiver._lock:
                    receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body))
                answer = b"ok" if receiver.status < 300 else b"internal_error"
                self.send_response(receiver.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads `requests`, not stderr."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    login: str | None  # the user that authenticated in this session, if any


class _Handler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.receiver._lock:
            self.receiver.messages.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, login)  # type: ignore[arg-type]
            )
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """`with SmtpReceiver() as smtp:` then send to `smtp.host:smtp.port`; messages land in `messages`.

    With `credentials=(user, password)` it offers AUTH (without TLS: loopback only) and requires it; aiosmtpd
    warns about that on every connection (a UserWarning the tests filter).
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.credentials == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def __enter__(self) -> SmtpReceiver:
        auth = (
            {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
            if self.credentials
            else {}
        )
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **auth)
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._controller is not None:
            self._controller.stop()
