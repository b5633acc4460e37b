"""A loopback stand-in for the Ollama REST API: a wire-contract test double, no model runs here.

It serves the documented shapes of `GET /api/tags`, non-streaming `POST /api/chat` and `POST /api/embed`
(vectors hashed from the input's words: deterministic, no model), and the documented
error bodies (`{"error": "..."}` with 400/404/500), so the real `ollama` client can be exercised end to end
(connection, timeouts, status handling) without a GPU or model weights. The chat reply's `message.content`
is whatever the test configures: a fixed string or a function of the request body.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any  # parsed JSON, or the raw text when it was not JSON


def _canonical_model(name: str) -> str:
    """Ollama defaults a missing tag to `latest`, so `llama3.2` and `llama3.2:latest` are one model."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _tag_entry(name: str) -> dict[str, Any]:
    family = name.split(":", 1)[0].split("/")[-1]
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    }


class OllamaServer:
    """`with OllamaServer(reply='{"records": []}') as server:` then point a client at `server.base_url`.

    `models` are the locally "pulled" models (`/api/tags`; chat with any other answers 404).
    `delay_seconds` holds every response that long (for client timeouts); `fail_status`/`fail_message`
    make `/api/chat` answer that error instead. Every request is kept in `requests`.
    """

    def __init__(
        self,
        *,
        reply: Reply = "{}",
        models: tuple[str, ...] = ("llama3.2:latest",),
        delay_seconds: float = 0.0,
        fail_status: int | None = None,
        fail_message: str = "the model failed to generate a response",
    ) -> None:
        self.reply = reply
        self.models = models
        self.delay_seconds = delay_seconds
        self.fail_status = fail_status
        self.fail_message = fail_message
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of the `/api/chat` requests received so far."""
        with self._lock:
            return [r.body for r in self.requests if r.path == "/api/chat"]

    def __enter__(self) -> OllamaServer:
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="ollama-test-double", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()  # releases handlers sleeping on delay_seconds
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _wait(self) -> None:
        if self.delay_seconds:
            self._stopping.wait(self.delay_seconds)

    def handle_tags(self) -> tuple[int, dict[str, Any]]:
        return 200, {"models": [_tag_entry(name) for name in self.models]}

    def handle_chat(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        if not raw:
            return 400, {"error": "missing request body"}
        try:
            body = json.loads(raw)
        except ValueError as error:
            self._record(RecordedRequest("POST", "/api/chat", raw.decode("utf-8", "replace")))
            return 400, {"error": str(error)}
        self._record(RecordedRequest("POST", "/api/chat", body))
        problem = _chat_request_problem(body)
        if problem:
            return 400, {"error": problem}
        if _canonical_model(body["model"]) not in {_canonical_model(m) for m in self.models}:
            return 404, {"error": f'model "{body["model"]}" not found, try pulling it first'}
        if self.fail_status is not None:
            return self.fail_status, {"error": self.fail_message}
        content = self.reply(body) if callable(self.reply) else self.reply
        return 200, {
            "model": body["model"],
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "message": {"role": "assistant", "content": content},
            "done_reason": "stop",
            "done": True,
            "total_duration": 2254970291,
            "load_duration": 574751416,
            "prompt_eval_count": 34,
            "prompt_eval_duration": 1502000000,
            "eval_count": 12,
            "eval_duration": 175000000,
        }

    def handle_embed(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        body = json.loads(raw or b"{}")
        self._record(RecordedRequest("POST", "/api/embed", body))
        if _canonical_model(body.get("model", "")) not in {_canonical_model(m) for m in self.models}:
            return 404, {"error": f'model "{body.get("model")}" not found, try pulling it first'}
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        return 200, {"model": body["model"], "embeddings": [hashed_vector(t, EMBED_DIMENSION) for t in texts]}


EMBED_DIMENSION = 64


def hashed_vector(text: str, dimension: int) -> list[float]:
    """A bag of hashed words: texts sharing words point the same way, with no model behind it."""
    vector = [0.0] * dimension
    for word in text.lower().split():
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % dimension] += 1.0
    return vector


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is expected here, not a failure worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _chat_request_problem(body: Any) -> str | None:
    """What the double refuses, with Ollama's wording where the docs give it."""
    if not isinstance(body, dict):
        return "json: cannot unmarshal request body into Go value of type api.ChatRequest"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        return "messages must be a list of {role, content} objects"
    if body.get("stream") is not False:
        return "this test double only serves non-streaming chat: send stream=false"
    if "format" in body and not isinstance(body["format"], dict | str):
        return "format must be 'json' or a JSON schema object"
    return None


def _handler_for(server: OllamaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            server._record(RecordedRequest("GET", self.path, None))
            server._wait()
            if self.path == "/api/tags":
                self._send(*server.handle_tags())
            else:
                self._send(404, {"error": "404 page not found"})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server._wait()
            if self.path == "/api/chat":
                self._send(*server.handle_chat(raw))
            elif self.path == "/api/embed":
                self._send(*server.handle_embed(raw))
            else:
                server._record(RecordedRequest("POST", self.path, raw.decode("utf-8", "replace")))
                self._send(404, {"error": "404 page not found"})

    return Handler
