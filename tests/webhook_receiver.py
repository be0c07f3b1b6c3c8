"""A real HTTP receiver of webhooks on 127.0.0.1, served by a thread of the test, and the
Standard Webhooks verification a consumer would run (written from the specification, not
from our signing code)."""

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: HMAC-SHA256, keyed with the base64 bytes after `whsec_`, of
    `<webhook-id>.<webhook-timestamp>.<body>`; the header lists `v1,<base64>` signatures."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.removeprefix("v1,"))
        for sig in headers["webhook-signature"].split()
        if sig.startswith("v1,")
    )


class Receiver:
    """Records every POST; `answer(n, received)` gives the status (and may block) for the
    n-th request (0-based)."""

    def __init__(self, answer: Callable[[int, Received], int]):
        self.answer = answer
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self.url = ""

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} requests arrived, not {count}")
            return list(self.received)


@contextmanager
def receiver(answer: Callable[[int, Received], int] = lambda n, r: 200) -> Iterator[Receiver]:
    state = Receiver(answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got = Received({k.lower(): v for k, v in self.headers.items()}, body)
            with state.arrived:
                number = len(state.received)
                state.received.append(got)
                state.arrived.notify_all()
            status = state.answer(number, got)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answer {number}: {status} ".encode() * 200)
            except OSError:
                pass  # the sender gave up (a timeout): nothing to answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks?source=vidpipe"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
