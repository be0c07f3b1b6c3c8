"""`make serve`'s server, run after migrate and collectstatic: `python -m vidpipe.serve`.

nginx listens on HOST:PORT and reads each request whole (headers, then the body, into
memory or a temporary file) before it passes it to gunicorn's sync workers on a private
loopback port; it answers their responses to the clients at the clients' pace too. A slow
client therefore holds a connection in nginx, never a worker. Timeouts close slow clients:
headers must arrive within CLIENT_TIMEOUT seconds, a body must not pause longer, and the
whole request must have arrived CLIENT_BODY_DEADLINE seconds after it started, plus its
declared length at CLIENT_MIN_BODY_RATE bytes a second (else 408). Bodies are limited per
route (`manifests.body_limits`: one image, a bulk upload, a bundle). Media: the app checks
each URL's signature and nginx sends the file from an internal location (X-Accel-Redirect).

Environment: HOST, PORT (nginx's address), WEB_CONCURRENCY (gunicorn workers, default 3),
FORWARDED_ALLOW_IPS (comma-separated proxies whose X-Forwarded-Proto/-For are trusted,
default 127.0.0.1, `*` for any), CLIENT_TIMEOUT (seconds, default 15), CLIENT_BODY_DEADLINE
(seconds, default 120), CLIENT_MIN_BODY_RATE (bytes a second, default 131072: 1 Mbit/s),
REQUEST_TIMEOUT (seconds gunicorn and nginx give the app's answer, default 300), NGINX (the
nginx binary, default `nginx` on PATH), NGINX_MODULES (the folder of nginx's dynamic
modules, default /usr/lib/nginx/modules: the body deadline needs the Lua module, Debian's
libnginx-mod-http-lua). The nginx configuration is written into a temporary folder, removed
on exit. Stops both on SIGTERM or SIGINT, or when either exits.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MODULES = ("ndk_http_module.so", "ngx_http_lua_module.so")  # the body deadline's Lua


def missing_modules(folder: Path) -> list[str]:
    return [module for module in MODULES if not (folder / module).is_file()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trusted_proxies(allowed: str) -> tuple[str, str]:
    """FORWARDED_ALLOW_IPS as nginx `geo` lines (trusted: 1) and `set_real_ip_from` lines."""
    addresses = [address.strip() for address in allowed.split(",") if address.strip()]
    if "*" in addresses:
        addresses = ["0.0.0.0/0", "::/0"]
    geo = "default 0;" + "".join(f"\n        {address} 1;" for address in addresses)
    real_ip = "".join(f"\n    set_real_ip_from {address};" for address in addresses)
    return geo, real_ip


@dataclass(frozen=True)
class Limits:
    """What make serve gives a client: seconds for its headers or between two reads
    (`timeout`); seconds for its whole body (`body_deadline`, plus the declared length over
    `min_rate` bytes a second); seconds for the app's answer (`request_timeout`); and the
    largest body, everywhere (`max_body`) and on the routes that take more
    (`large_bodies`: path pattern and limit, from manifests.body_limits)."""

    timeout: int
    body_deadline: int
    min_rate: int
    request_timeout: int
    max_body: int
    large_bodies: list[tuple[str, int]]


def _location(match: str, upstream: int, max_body: int, name: str) -> str:
    return f"""
        location {match} {{
            client_max_body_size {max_body};
            error_page 413 @too_large_{name};
            proxy_pass http://127.0.0.1:{upstream};
        }}
        location @too_large_{name} {{
            default_type application/json;
            return 413 '{{"detail": "The request body is larger than {max_body} bytes."}}';
        }}"""


def _media_location(accel: str, media_root: Path) -> str:
    # Media (vidpipe.media): the app checks each URL's signature, then names the file in
    # X-Accel-Redirect under this location; `internal`: a client asking for it gets 404.
    # ^~ so that no body-limit pattern above takes it.
    return f"""
        location ^~ {accel} {{
            internal;
            alias {media_root}/;
            add_header X-Content-Type-Options nosniff always;
            types {{ image/jpeg jpg jpeg; image/png png; image/webp webp; image/gif gif; }}
            default_type application/octet-stream;
        }}"""


def nginx_config(
    run: Path,
    listen: str,
    upstream: int,
    limits: Limits,
    trusted: tuple[str, str],
    modules: Path,
    media: tuple[str, Path],
) -> str:
    geo, real_ip = trusted
    locations = "".join(
        _location(f"~ {pattern}", upstream, max_body, f"large_{number}")
        for number, (pattern, max_body) in enumerate(limits.large_bodies)
    ) + _location("/", upstream, limits.max_body, "default")
    locations += _media_location(*media)  # media: signed URLs, sent by nginx
    return f"""# Written by vidpipe/serve.py for one run; see README "Production".
load_module {modules}/ndk_http_module.so;
load_module {modules}/ngx_http_lua_module.so;
worker_processes 1;
pid {run}/nginx.pid;
error_log stderr warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;  # gunicorn logs every request it answers
    server_tokens off;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;

    # Slow clients: all headers within the timeout (else closed), no body pause longer
    # (else closed), answers read at least that often; bodies over their route's limit
    # (with room for the multipart framing) get 413 before they are read. A body trickled
    # faster than the timeout gets 408 at its deadline: see `access_by_lua_block` below.
    client_header_timeout {limits.timeout}s;
    client_body_timeout {limits.timeout}s;
    send_timeout {limits.timeout}s;
    keepalive_timeout {limits.timeout}s;
    reset_timedout_connection on;
    client_body_buffer_size 256k;

    # X-Forwarded-Proto and -For are believed only from FORWARDED_ALLOW_IPS; from anyone
    # else they are replaced by what nginx saw. gunicorn gets one X-Forwarded-For address:
    # the client's ($remote_addr, through trusted proxies' X-Forwarded-For).
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;{real_ip}
    geo $realip_remote_addr $vidpipe_trusted {{
        {geo}
    }}
    map $vidpipe_trusted $vidpipe_proto {{
        1 $http_x_forwarded_proto;
        default $scheme;
    }}

    server {{
        listen {listen};
        # Inherited by every location below, which each add their body limit.
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto $vidpipe_proto;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_request_buffering on;
        proxy_buffering on;
        proxy_read_timeout {limits.request_timeout}s;

        # nginx times the pauses in a body, never the whole of it: a client sending a byte
        # every few seconds would hold its connection for as long as the body lasts. Here
        # nginx's own reader (chunked bodies, temporary files, the 413) reads the body while
        # a light thread answers 408 and closes the connection if the request is not whole
        # {limits.body_deadline} s after it started, plus its declared length at
        # {limits.min_rate} bytes a second.
        access_by_lua_block {{
            if not ngx.var.http_content_length and not ngx.var.http_transfer_encoding then
                return
            end
            local length = tonumber(ngx.var.http_content_length) or 0
            local allowed = math.ceil({limits.body_deadline} + length / {limits.min_rate})
            local left = allowed - (ngx.now() - ngx.req.start_time())
            local deadline = ngx.thread.spawn(function()
                ngx.sleep(math.max(left, 0.001))
                ngx.log(ngx.WARN, "request body not whole within ", allowed, " s: 408")
                local answer = '{{"detail": "The request body did not arrive within '
                    .. allowed .. ' seconds."}}'
                ngx.status = 408
                ngx.header["Content-Type"] = "application/json"
                ngx.header["Content-Length"] = #answer
                ngx.header["Connection"] = "close"
                ngx.print(answer)
                return ngx.exit(ngx.HTTP_OK)
            end)
            ngx.req.read_body()
            ngx.thread.kill(deadline)
        }}
{locations}
    }}
}}
"""


def wait_listening(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)


def main() -> int:
    nginx = shutil.which(os.environ.get("NGINX") or "nginx") or shutil.which(
        "nginx", path="/usr/sbin:/usr/local/sbin"
    )
    if not nginx:
        print(
            "make serve: nginx not found "
            "(Debian: apt-get install nginx-light libnginx-mod-http-lua)",
            file=sys.stderr,
        )
        return 2
    modules = Path(os.environ.get("NGINX_MODULES") or "/usr/lib/nginx/modules")
    if missing := missing_modules(modules):
        print(
            f"make serve: nginx's Lua module is not in {modules} (missing {', '.join(missing)}; "
            "Debian: apt-get install libnginx-mod-http-lua, or set NGINX_MODULES)",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vidpipe.settings")
    import django

    django.setup()  # the body limits come from the settings
    from django.conf import settings

    from manifests.body_limits import default_body_limit, large_body_locations

    # Media: the location gunicorn's media view hands files to (X-Accel-Redirect).
    accel = settings.VIDPIPE_MEDIA_ACCEL_REDIRECT or "/_protected_media/"
    media_root = Path(settings.MEDIA_ROOT).resolve()

    host = os.environ.get("HOST") or "127.0.0.1"
    port = os.environ.get("PORT") or "8000"
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    upstream = free_port()
    run = Path(tempfile.mkdtemp(prefix="vidpipe-serve-"))
    run.chmod(0o755)  # nginx's workers (nobody, when started as root) use its temp folders
    config = run / "nginx.conf"
    limits = Limits(
        timeout=int(os.environ.get("CLIENT_TIMEOUT") or 15),
        body_deadline=int(os.environ.get("CLIENT_BODY_DEADLINE") or 120),
        min_rate=int(os.environ.get("CLIENT_MIN_BODY_RATE") or 131072),
        request_timeout=int(os.environ.get("REQUEST_TIMEOUT") or 300),
        max_body=default_body_limit(),
        large_bodies=large_body_locations(),
    )
    config.write_text(
        nginx_config(
            run,
            listen,
            upstream,
            limits,
            trusted_proxies(os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"),
            modules,
            (accel, media_root),
        )
    )
    gunicorn = [
        str(Path(sys.executable).parent / "gunicorn"),
        "vidpipe.wsgi",
        "--bind",
        f"127.0.0.1:{upstream}",
        "--workers",
        os.environ.get("WEB_CONCURRENCY") or "3",
        # A bundle import or a bulk upload of large images may take more than gunicorn's
        # default 30 s; nginx waits as long (proxy_read_timeout).
        "--timeout",
        str(limits.request_timeout),
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        "127.0.0.1",  # nginx, which sets X-Forwarded-Proto and -For itself
    ]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    processes = []
    try:
        # One proxy, nginx, whose X-Forwarded-For holds the client's address alone.
        # Media: the view checks signatures, nginx sends the files.
        env = {**os.environ, "VIDPIPE_PROXY_COUNT": "1", "VIDPIPE_MEDIA_ACCEL_REDIRECT": accel}
        processes.append(subprocess.Popen(gunicorn, env=env))
        wait_listening(upstream, processes[0])
        if processes[0].poll() is None and not stopping:
            processes.append(
                subprocess.Popen([nginx, "-e", "stderr", "-p", str(run), "-c", str(config)])
            )
        while not stopping and all(process.poll() is None for process in processes):
            time.sleep(0.2)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()  # nginx: fast shutdown; gunicorn: graceful
        for process in processes:
            try:
                process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(run, ignore_errors=True)
    failed = [process.returncode for process in processes if process.returncode]
    return 0 if stopping or not failed else failed[0]


if __name__ == "__main__":
    sys.exit(main())
