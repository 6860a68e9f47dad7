"""Tasks for test_celery.py: a Celery worker imports them by module name.
The broker and the result backend are both the server under test, whose URL
the test passes in CAUSALKV_CELERY_URL."""

import os

from celery import Celery

URL = os.environ.get("CAUSALKV_CELERY_URL", "redis://127.0.0.1:6379/0")
app = Celery("causalkv_celery_test", broker=URL, backend=URL)
app.conf.update(broker_connection_retry_on_startup=True, task_acks_late=True,
                worker_hijack_root_logger=False, result_expires=600)


@app.task
def add(a, b):
    return a + b


@app.task(bind=True, max_retries=2, default_retry_delay=0.2)
def flaky(self, marker_path):
    """Fails the first time (no marker file yet), succeeds on its retry."""
    if not os.path.exists(marker_path):
        open(marker_path, "w").close()
        raise self.retry(exc=RuntimeError("first try fails"))
    return "ok after retry"


@app.task
def boom():
    raise ValueError("this task fails on purpose")
