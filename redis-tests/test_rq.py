#!/usr/bin/env python3
"""A real application against causalkv: RQ (Debian's python3-rq), a job queue
built on Redis lists, hashes, sorted sets, pub/sub and streams. A job is
enqueued, run by a real `rq worker --burst` process, and its result read back;
a failing job ends in the failed registry.

RQ's worker subscribes to a pub/sub channel (its command channel), and RQ
stores each result in a stream (XADD ... MAXLEN 10) when the server reports
Redis >= 5: the result read back comes from that stream."""

import os
import subprocess
import sys
import time
import unittest

import redis

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
RQ_WORKER = "/usr/bin/rqworker" if os.path.exists("/usr/bin/rqworker") else "rq"

try:
    import rq  # noqa: F401
    HAVE_RQ = True
except ImportError:
    HAVE_RQ = False


@unittest.skipUnless(HAVE_RQ, "python3-rq is not installed (make deps installs it)")
class RqEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = harness.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def run_worker(self):
        env = dict(os.environ, PYTHONPATH=HERE)
        url = "redis://127.0.0.1:%d/0" % self.srv.port
        return subprocess.run([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", url,
                               "--name", "w%d" % time.monotonic_ns(), "default"],
                              env=env, cwd=HERE, capture_output=True, text=True, timeout=120)

    def test_job_runs_and_its_result_is_read(self):
        from rq import Queue
        import rq_jobs
        r = redis.Redis(port=self.srv.port)
        q = Queue("default", connection=r)
        job = q.enqueue(rq_jobs.add, 2, 3)
        failing = q.enqueue(rq_jobs.fail)
        self.assertEqual(q.count, 2)
        worker = self.run_worker()
        self.assertEqual(worker.returncode, 0, worker.stdout + worker.stderr)
        job.refresh()
        self.assertEqual(job.get_status(), "finished")
        self.assertEqual(job.return_value(), 5)
        failing.refresh()
        self.assertEqual(failing.get_status(), "failed")
        self.assertIn(failing.id, q.failed_job_registry.get_job_ids())
        # The results live in streams, one per job.
        self.assertEqual(r.type("rq:results:%s" % job.id), b"stream")
        self.assertEqual(r.xlen("rq:results:%s" % job.id), 1)
        self.assertEqual(job.latest_result().return_value, 5)


if __name__ == "__main__":
    harness.main()
