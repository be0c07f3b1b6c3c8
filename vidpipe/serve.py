"""`make serve`'s server (after migrate and collectstatic)."""

import os
import sys
from pathlib import Path


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    os.execv(
        gunicorn,
        [
            gunicorn,
            "vidpipe.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY") or "3",
            "--access-logfile",
            "-",
            "--forwarded-allow-ips",
            os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1",
        ],
    )


if __name__ == "__main__":
    main()
