#!/usr/bin/python3
"""A real application against causalkv: Celery (Debian's python3-celery)
with causalkv as both its Redis broker (kombu: lists with BRPOP, the unacked
hash and sorted set, MULTI/EXEC, pub/sub for broadcast) and its Redis result
backend (results stored with SETEX and awaited through SUBSCRIBE). A real
`celery worker` process runs a task whose result the client reads, retries
a task that fails once, and reports a failing task's exception."""

import os
import subprocess
import sys
import tempfile
import time
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import celery  # noqa: F401
    HAVE_CELERY = True
except ImportError:
    HAVE_CELERY = False


@unittest.skipUnless(HAVE_CELERY, "python3-celery is not installed (make deps installs it)")
class CeleryEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_server()
        cls.url = "redis://127.0.0.1:%d/0" % cls.srv.port
        os.environ["CAUSALKV_CELERY_URL"] = cls.url
        cls.tmp = tempfile.mkdtemp(prefix="causalkv-celery-")
        env = dict(os.environ, PYTHONPATH=HERE, CAUSALKV_CELERY_URL=cls.url)
        cls.worker_log = open(os.path.join(cls.tmp, "worker.log"), "w+")
        cls.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", "--pool", "solo",
             "--concurrency", "1", "--without-heartbeat", "--without-gossip",
             "--without-mingle", "--loglevel", "INFO"],
            cwd=HERE, env=env, stdout=cls.worker_log, stderr=subprocess.STDOUT)
        sys.path.insert(0, HERE)
        import celery_tasks
        cls.tasks = celery_tasks

    @classmethod
    def tearDownClass(cls):
        # The result backend keeps a pub/sub connection: closed before the
        # server stops, so that it does not try to reconnect at exit.
        cls.tasks.app.backend.result_consumer.stop()
        cls.tasks.app.close()
        cls.worker.terminate()
        try:
            cls.worker.wait(20)
        except subprocess.TimeoutExpired:
            cls.worker.kill()
            cls.worker.wait()
        cls.worker_log.close()
        cls.srv.stop()

    def worker_output(self):
        self.worker_log.flush()
        self.worker_log.seek(0)
        return self.worker_log.read()[-4000:]

    def test_task_runs_and_its_result_is_read(self):
        result = self.tasks.add.delay(2, 3)
        self.assertEqual(result.get(timeout=60), 5, self.worker_output())
        self.assertEqual(result.status, "SUCCESS")
        # A second client reads the stored result by id.
        again = self.tasks.app.AsyncResult(result.id)
        self.assertEqual(again.get(timeout=10), 5)

    def test_a_failing_task_is_retried(self):
        marker = os.path.join(self.tmp, "flaky-%d" % time.monotonic_ns())
        result = self.tasks.flaky.delay(marker)
        self.assertEqual(result.get(timeout=60), "ok after retry", self.worker_output())

    def test_a_failing_task_reports_its_error(self):
        result = self.tasks.boom.delay()
        with self.assertRaises(ValueError) as raised:
            result.get(timeout=60)
        self.assertIn("on purpose", str(raised.exception))
        self.assertEqual(result.status, "FAILURE")


if __name__ == "__main__":
    harness.main()
