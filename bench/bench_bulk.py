"""Bulk upload of 100 photo-like 2 MP JPEGs in one request to a real server (gunicorn, one
sync worker, production settings): wall time of the request, and the worker's peak memory
growth (its VmHWM, reset just before, over its VmRSS then: the whole process as the
kernel counts it, Pillow's buffers included, which tracemalloc would not see)."""

import argparse
import http.client
import io
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from PIL import Image
from scratch import gunicorn, manage, production_env, staff_token  # bench/scratch.py

REPO = Path(__file__).resolve().parent.parent
TIME_TARGET_S = 30
MEMORY_TARGET_MB = 300


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=100, help="images in the upload")
    parser.add_argument("--megapixels", type=float, default=2.0, help="size of each image")
    parser.add_argument("--runs", type=int, default=3, help="uploads measured (median shown)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--database-url",
        help="a scratch database to use instead of a temporary SQLite file (it gets data!)",
    )
    return parser.parse_args()


def photo_jpeg(size: tuple[int, int]) -> bytes:
    """A photo-like JPEG: gradients with sensor-like noise, quality 90 (never the same)."""
    noise = Image.effect_noise(size, 24)
    horizontal = Image.linear_gradient("L").resize(size)
    vertical = horizontal.transpose(Image.Transpose.ROTATE_90).resize(size)
    channels = [
        Image.blend(horizontal, noise, 0.35),
        Image.blend(vertical, noise, 0.35),
        Image.blend(horizontal.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise, 0.35),
    ]
    buffer = io.BytesIO()
    Image.merge("RGB", channels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def multipart(path: Path, images: list[bytes], asset_type: str = "CHARACTER") -> str:
    """Write a multipart body (`files` xN, `asset_type`) to `path`; its content type."""
    boundary = uuid.uuid4().hex
    with path.open("wb") as body:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="asset_type"\r\n\r\n'
            f"{asset_type}\r\n".encode()
        )
        for index, content in enumerate(images):
            body.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                f'filename="shot_{index:03d}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            )
            body.write(content + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}"


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def worker_of(master: int) -> int:
    """gunicorn's one worker process, the master's child."""
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


def api(port: int, token: str, method: str, path: str, body=None, content_type=None, length=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Token {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    if length is not None:
        headers["Content-Length"] = str(length)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    return response.status, json.loads(answer) if answer else None


def new_manifest(port: int, token: str, name: str) -> str:
    body = json.dumps({"name": name}).encode()
    status, manifest = api(port, token, "POST", "/api/manifests", body, "application/json")
    assert status == 201, manifest
    return manifest["id"]


def upload(port: int, token: str, manifest_id: str, body: Path, content_type: str, worker: int):
    """POST the body; seconds, peak RSS growth of the worker (MB), and the answer."""
    Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = status_kb(worker, "VmRSS")
    started = time.perf_counter()
    with body.open("rb") as stream:
        status, answer = api(
            port,
            token,
            "POST",
            f"/api/manifests/{manifest_id}/assets/bulk",
            stream,
            content_type,
            body.stat().st_size,
        )
    elapsed = time.perf_counter() - started
    assert status == 201, answer
    return elapsed, (status_kb(worker, "VmHWM") - before) / 1024, answer


def main() -> int:
    args = parse_args()
    side = int((args.megapixels * 1_000_000 / 12) ** 0.5)
    size = (side * 4, side * 3)
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-bulk-") as scratch:
        workdir = Path(scratch)
        env = production_env(workdir, args.database_url, DJANGO_SECURE_SSL_REDIRECT="0")
        manage(env, "migrate", "--noinput")
        token = staff_token(env)
        images = [photo_jpeg(size) for _ in range(args.images)]
        body = workdir / "body.multipart"
        content_type = multipart(body, images)
        warmup = workdir / "warmup.multipart"
        warmup_type = multipart(warmup, images[:2])
        print(
            f"{args.images} JPEGs of {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.1f} MP), "
            f"{sum(map(len, images)) / 1e6:.1f} MB in all; request body "
            f"{body.stat().st_size / 1e6:.1f} MB"
        )
        with gunicorn(env, "--workers", "1", "--timeout", "600") as (port, server):
            worker = worker_of(server.pid)
            warm = new_manifest(port, token, "Warm-up")
            upload(port, token, warm, warmup, warmup_type, worker)  # imports, first decode
            runs = []
            for run in range(args.runs):
                manifest_id = new_manifest(port, token, f"Bulk {run}")
                elapsed, peak, answer = upload(port, token, manifest_id, body, content_type, worker)
                _, manifest = api(port, token, "GET", f"/api/manifests/{manifest_id}")
                assert len(answer["created"]) == args.images and not answer["refused"]
                assert (manifest["asset_count"], manifest["version"]) == (args.images, 2)
                runs.append((elapsed, peak))
                print(
                    f"run {run + 1}: {elapsed:.2f} s ({args.images / elapsed:.0f} images/s), "
                    f"worker peak RSS growth {peak:.0f} MB"
                )
    elapsed = statistics.median(r[0] for r in runs)
    peak = max(r[1] for r in runs)
    print(f"median {elapsed:.2f} s; largest peak growth {peak:.0f} MB")
    missed = elapsed > TIME_TARGET_S or peak > MEMORY_TARGET_MB
    if missed:
        print(f"MISSED a target: {TIME_TARGET_S} s, {MEMORY_TARGET_MB} MB")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
