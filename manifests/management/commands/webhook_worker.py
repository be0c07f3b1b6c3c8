import threading
import time

from django.core.management import call_command
from django.db import close_old_connections
from django_tasks import task_backends
from django_tasks_db import DatabaseBackend

from manifests.management.commands._output import OperationsCommand
from manifests.services.webhooks import webhooks_resume


def positive_seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise ValueError(value)
    return seconds


class Command(OperationsCommand):
    help = (
        "Run the worker that delivers webhooks: the task backend's own worker (db_worker for "
        "the database backend, rqworker for VIDPIPE_TASKS_BACKEND=rq). Deliveries that are "
        "due without a live attempt (a worker killed mid-attempt, a task a broker lost) are "
        "queued again at start and then every --resume-every seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--resume-every",
            type=positive_seconds,
            default=60,
            metavar="SECONDS",
            help="how often to queue again the deliveries left behind (default 60)",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="run until no task is ready, then stop (database backend only)",
        )

    def handle(self, *args, resume_every: float, batch: bool, **options):
        resumed = webhooks_resume()
        if resumed:
            self.say(f"Queued again {resumed} deliveries left behind.")
        if not batch:
            threading.Thread(target=self._resume_loop, args=(resume_every,), daemon=True).start()
        verbosity = options["verbosity"]
        if isinstance(task_backends["default"], DatabaseBackend):
            worker = ["db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"]
            call_command(*worker, *(["--batch"] if batch else []), verbosity=verbosity)
        else:
            rq = ["rqworker", "default", "--with-scheduler"]
            call_command(*rq, *(["--burst"] if batch else []), job_class="django_tasks_rq.Job")

    def _resume_loop(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            close_old_connections()
            try:
                webhooks_resume()
            except Exception:  # the next round tries again; the worker itself goes on
                self.stderr.write("Could not queue the deliveries left behind; retrying.")
