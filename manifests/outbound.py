"""HTTP requests to webhook targets, refused where they could reach inside (SSRF).

A target must be http(s), name a host whose every address is public: loopback, private,
link-local, shared (carrier-grade NAT), multicast, reserved and cloud metadata addresses are
refused (loopback is allowed when VIDPIPE_WEBHOOK_ALLOW_LOOPBACK is on: the tests' receiver).
The name is resolved again at each delivery, and the connection goes to the address that was
checked, not to a second lookup (DNS rebinding). Redirects are never followed (http.client
follows none); connect and read time out (VIDPIPE_WEBHOOK_CONNECT_TIMEOUT, _READ_TIMEOUT).
"""

import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_URL_LENGTH = 2000
EXCERPT_BYTES = 1024
# Cloud metadata services, named apart: some are not link-local (Alibaba's, AWS's IPv6).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254")
)


class TargetRefused(Exception):
    """The URL is not one a webhook may be sent to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str
    latency_ms: int


def parse_target(url: str) -> Target:
    """The parts of a webhook URL; TargetRefused for anything but a plain http(s) URL."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise TargetRefused("The URL holds spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"The URL cannot be read: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"Only http and https URLs are allowed, not {parts.scheme or 'none'}.")
    if not parts.hostname:
        raise TargetRefused("The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The URL holds credentials (user:password@); they would be logged.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def refusal(address: str) -> str | None:
    """What kind of address this is, when a webhook may not go to it; None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return None if settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK else "a loopback address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a public address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def resolve(target: Target) -> str:
    """The address to connect to: every address the host resolves to must be allowed
    (TargetRefused names the first that is not); the first of them."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"The host {target.host} cannot be resolved ({exc}).") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise TargetRefused(f"The host {target.host} resolves to no address.")
    for address in addresses:
        reason = refusal(address)
        if reason is None:
            continue
        if address == target.host:
            raise TargetRefused(f"{address} is {reason}.")
        raise TargetRefused(f"The host {target.host} resolves to {address}, {reason}.")
    return addresses[0]


def check_url(url: str) -> Target:
    """Refuse (TargetRefused) a URL a webhook may not be sent to, as delivery would."""
    target = parse_target(url)
    resolve(target)
    return target


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` (checked, resolved, pinned); the answer, whatever its status.

    TargetRefused for a refused URL; OSError (timeouts included) and http.client errors for
    a failed exchange."""
    target = parse_target(url)
    address = resolve(target)
    connection_class = (
        http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(
        target.host, target.port, timeout=settings.VIDPIPE_WEBHOOK_CONNECT_TIMEOUT
    )

    def connect_checked(_address, timeout=None, source_address=None):
        # To the address checked above; TLS still verifies the certificate for the name.
        sock = socket.create_connection((address, target.port), timeout, source_address)
        sock.settimeout(settings.VIDPIPE_WEBHOOK_READ_TIMEOUT)
        return sock

    connection._create_connection = connect_checked
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES)
        latency = int((time.monotonic() - started) * 1000)
        return Answer(response.status, excerpt.decode("utf-8", "replace"), latency)
    finally:
        connection.close()
