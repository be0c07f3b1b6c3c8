"""Image figures: a 24-megapixel JPEG upload (validate + thumbnail) and contact sheets.

    .venv/bin/python bench/bench_images.py [--repeat 5] [--sheet-assets 100]

Runs against a throw-away SQLite database and MEDIA_ROOT (set DATABASE_URL to use another
database). Targets from issue 5: validate + thumbnail under 0.5 s and under 200 MB of peak
memory growth for the 24 MP photo.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKDIR = Path(tempfile.mkdtemp(prefix="vidpipe-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vidpipe.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORKDIR / 'bench.sqlite3'}")
os.environ["MEDIA_ROOT"] = str(WORKDIR / "media")
os.environ.setdefault("DJANGO_LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from django.core.files import File  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image  # noqa: E402

from manifests import services  # noqa: E402
from manifests.images import inspect_and_thumbnail  # noqa: E402

TIME_TARGET_S = 0.5
MEMORY_TARGET_MB = 200


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not permitted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def photo_jpeg(path: Path, size=(6000, 4000)) -> None:
    """A photo-like 24 MP JPEG: smooth gradients with sensor-like noise, quality 90."""
    noise = Image.effect_noise(size, 24)
    horizontal = Image.linear_gradient("L").resize(size)
    vertical = horizontal.transpose(Image.Transpose.ROTATE_90).resize(size)
    red = Image.blend(horizontal, noise, 0.35)
    green = Image.blend(vertical, noise, 0.35)
    blue = Image.blend(horizontal.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise, 0.35)
    Image.merge("RGB", (red, green, blue)).save(path, "JPEG", quality=90)


def timed(operation) -> tuple[float, float | None]:
    """Seconds taken, and peak RSS growth in MB over the RSS just before (None if unknown)."""
    can_reset = reset_peak()
    before = rss_mb("VmRSS")
    started = time.perf_counter()
    operation()
    elapsed = time.perf_counter() - started
    return elapsed, (rss_mb("VmHWM") - before) if can_reset else None


def report(label: str, samples: list[tuple[float, float | None]]) -> dict:
    times = [elapsed for elapsed, _ in samples]
    peaks = [peak for _, peak in samples if peak is not None]
    line = f"{label:<48} median {statistics.median(times):6.3f} s   max {max(times):6.3f} s"
    if peaks:
        line += f"   peak growth {max(peaks):6.1f} MB"
    print(line)
    return {"median": statistics.median(times), "peak": max(peaks) if peaks else None}


def measure(label: str, operation, repeat: int) -> dict:
    return report(label, [timed(operation) for _ in range(repeat)])


def upload_work(photo: Path):
    """What an upload does with the file: validate it, and make the thumbnail."""

    def work():
        with photo.open("rb") as file:
            inspect_and_thumbnail(file)

    return work


def in_fresh_process(photo: Path) -> tuple[float, float | None]:
    """The first upload a new worker process handles (nothing decoded or cached yet)."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(photo)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ},
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result["seconds"], result["peak_mb"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sheet-assets", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        seconds, peak = timed(upload_work(args.child))
        print(json.dumps({"seconds": seconds, "peak_mb": peak}))
        return 0
    call_command("migrate", verbosity=0)

    photo = WORKDIR / "photo-24mp.jpg"
    photo_jpeg(photo)
    print(f"24 MP JPEG: 6000x4000, {photo.stat().st_size / 1e6:.1f} MB on disk")

    cold = report(
        "validate + thumbnail, fresh process",
        [in_fresh_process(photo) for _ in range(args.repeat)],
    )
    warm = measure("validate + thumbnail, warm process", upload_work(photo), args.repeat)

    manifest = services.manifest_create(name="Bench")
    asset = services.asset_create(manifest=manifest, name="Photo", asset_type="CHARACTER")

    def attach():
        with photo.open("rb") as file:
            services.asset_attach_image(asset=asset, file=File(file, name="photo.jpg"))

    measure("asset_attach_image (+ store, database)", attach, args.repeat)

    ok = warm["median"] < TIME_TARGET_S and (cold["peak"] or 0) < MEMORY_TARGET_MB
    print(
        f"target: validate + thumbnail < {TIME_TARGET_S} s (warm median) and < "
        f"{MEMORY_TARGET_MB} MB peak growth (fresh process) -> {'met' if ok else 'MISSED'}"
        + ("" if cold["peak"] is not None else " (peak memory not measurable here)")
    )

    for count in args.sheet_assets:
        sheet_manifest = services.manifest_create(name=f"Cast of {count}")
        for index in range(count):
            tile = Image.new("RGB", (768, 512), ((index * 37) % 256, (index * 91) % 256, 120))
            buffer = io.BytesIO()
            tile.save(buffer, "JPEG", quality=85)
            buffer.seek(0)
            member = services.asset_create(
                manifest=sheet_manifest, name=f"Character {index}", asset_type="CHARACTER"
            )
            services.asset_attach_image(asset=member, file=File(buffer, name="tile.jpg"))
        measure(
            f"contact sheet, {count} assets",
            lambda m=sheet_manifest: services.manifest_render_contact_sheet(manifest=m),
            max(1, args.repeat // 2),
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
