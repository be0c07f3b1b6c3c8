"""A webhook receiver to try vidpipe's webhooks on one machine: it verifies each delivery
with the Standard Webhooks algorithm (README "Events and webhooks"), answers 204 (or 400
when the signature does not verify) and prints what came.

    WEBHOOK_SECRET=whsec_... python docs/webhook_receiver.py PORT
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


def verify(secret: str, headers, body: bytes, tolerance: int = 300) -> bool:
    """Standard Webhooks: True when `secret` signed this delivery, sent in the last 5 min."""
    msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        return False  # too old: a replay
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        verified = verify(os.environ["WEBHOOK_SECRET"], self.headers, body)
        self.send_response(204 if verified else 400)
        self.end_headers()
        event = json.loads(body)
        print("verified" if verified else "REFUSED", self.headers["webhook-id"], event["type"])
        sys.stdout.flush()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
