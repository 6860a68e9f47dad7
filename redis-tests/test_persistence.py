#!/usr/bin/python3
"""Snapshots through the real server: SAVE, BGSAVE, save points, the final
snapshot at SHUTDOWN/SIGTERM, loading at start, and the refusal of a corrupt
file. What must survive: every sibling, every version, every TTL, all 16
databases, and the version counter (no version is ever issued twice).
"""

import os
import subprocess
import time
import unittest

import redis

import harness

SNAPSHOT = "dump.ckv"


def vget(r, key):
    version, values = r.execute_command("VGET", key)
    return int(version), list(values)


class Snapshots(unittest.TestCase):
    def start(self, *args, data_dir=None):
        srv = harness.start_server(None, *args, data_dir=data_dir)
        return srv, redis.Redis(port=srv.port)

    def fill(self, r):
        r.execute_command("VPUT", "cart", 0, "milk")
        r.execute_command("VPUT", "cart", 0, "eggs")
        r.execute_command("VPUT", "cart", 1, "milk flour")
        r.set("ttl", "x", ex=1000)
        r.set("bin", b"\x00\r\n\xff")
        r.set("empty", "")
        for db in range(16):
            r.execute_command("SELECT", db)
            r.set("db%d" % db, db)
        r.execute_command("SELECT", 0)
        r.set("big", b"v" * (10 * 1024 * 1024))
        for i in range(64):  # blind writes: 64 concurrent siblings (max-siblings)
            r.execute_command("VPUT", "crowd", 0, "s%d" % i)

    def check(self, r):
        self.assertEqual(vget(r, "cart"), (3, [b"eggs", b"milk flour"]))
        self.assertTrue(990 <= r.ttl("ttl") <= 1000)
        self.assertEqual(r.get("bin"), b"\x00\r\n\xff")
        self.assertEqual(r.get("empty"), b"")
        self.assertEqual(len(r.get("big")), 10 * 1024 * 1024)
        version, values = vget(r, "crowd")
        self.assertEqual(values, [b"s%d" % i for i in range(64)])
        for db in range(16):
            r.execute_command("SELECT", db)
            self.assertEqual(r.get("db%d" % db), str(db).encode())
        r.execute_command("SELECT", 0)

    def test_save_then_kill9_restores_everything(self):
        srv, r = self.start()
        self.fill(r)
        self.assertTrue(r.save())
        before = r.lastsave()
        r.close()
        srv.kill9()
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            self.check(r2)
            self.assertGreaterEqual(r2.lastsave(), before)
            # The counter resumes above everything issued, snapshot or not.
            harness.assert_versions_resume_above(self, r2, 3 + 16 + 5)
            # And the restored siblings still behave as siblings.
            self.assertEqual(vget(r2, "cart")[1], [b"eggs", b"milk flour"])
            v, values = r2.execute_command("VPUT", "cart", 2, "merged")
            self.assertEqual(values, [b"milk flour", b"merged"])
        finally:
            r2.close()
            srv2.stop()
            srv.remove_dir()

    def test_kill9_restores_exactly_the_last_snapshot(self):
        # A writer whose every write is acknowledged, a SAVE now and then,
        # kill -9 at a random moment: the restart holds exactly the state of
        # the last SAVE, and issues no version it had issued before.
        import random
        import threading
        for attempt in range(3):
            srv, r = self.start("--save", "")
            saved = None
            highest = 0
            killed = threading.Event()
            timer = threading.Timer(random.uniform(0.3, 1.2), lambda: (killed.set(), srv.proc.kill()))
            timer.start()
            rnd = random.Random(attempt)
            state = {}
            in_flight = None
            try:
                i = 0
                while not killed.is_set():
                    key = "k%d" % rnd.randrange(100)
                    seen = state[key][0] if key in state and rnd.random() < 0.5 else 0
                    version, values = r.execute_command("VPUT", key, seen, "v%d" % i)
                    state[key] = (int(version), list(values))
                    highest = max(highest, int(version))
                    i += 1
                    if i % 200 == 0:
                        # If the kill lands during SAVE, the file may hold
                        # this state though no reply said so.
                        in_flight = dict(state)
                        self.assertTrue(r.save())
                        saved = in_flight
                        in_flight = None
            except (redis.ConnectionError, ConnectionError):
                pass
            finally:
                timer.cancel()
            r.close()
            srv.kill9()
            srv2, r2 = self.start(data_dir=srv.dir)
            try:
                restored = {k.decode(): vget(r2, k) for k in r2.keys("*")}
                candidates = [saved or {}] + ([in_flight] if in_flight is not None else [])
                self.assertIn(restored, candidates)
                harness.assert_versions_resume_above(self, r2, highest)
            finally:
                r2.close()
                srv2.stop()
                srv.remove_dir()

    def test_bgsave_serves_while_saving_and_restores(self):
        srv, r = self.start()
        self.fill(r)
        # redis-py turns "+Background saving started" into True.
        self.assertTrue(r.bgsave())
        r.set("during", "1")  # the loop keeps serving
        deadline = time.time() + 30
        while r.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
            time.sleep(0.05)
        info = r.info("persistence")
        self.assertEqual(info["rdb_bgsave_in_progress"], 0)
        self.assertEqual(info["rdb_last_bgsave_status"], "ok")
        r.close()
        srv.kill9()
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            self.check(r2)
        finally:
            r2.close()
            srv2.stop()
            srv.remove_dir()

    def test_sigterm_with_save_points_saves_and_nosave_does_not(self):
        srv, r = self.start("--save", "3600 1")
        r.set("k", "v")
        r.close()
        srv.stop(remove_dir=False)  # SIGTERM: a final snapshot
        srv2, r2 = self.start("--save", "3600 1", data_dir=srv.dir)
        self.assertEqual(r2.get("k"), b"v")
        r2.set("k", "changed")
        try:
            r2.execute_command("SHUTDOWN", "NOSAVE")
        except redis.ConnectionError:
            pass
        r2.close()
        srv2.proc.wait(timeout=15)
        srv3, r3 = self.start(data_dir=srv.dir)
        try:
            self.assertEqual(r3.get("k"), b"v", "SHUTDOWN NOSAVE kept the old snapshot")
        finally:
            r3.close()
            srv3.stop()
            srv.remove_dir()

    def test_without_save_points_nothing_is_written_unless_asked(self):
        srv, r = self.start()
        r.set("k", "v")
        r.close()
        srv.stop(remove_dir=False)
        self.assertFalse(os.path.exists(os.path.join(srv.dir, SNAPSHOT)))
        srv2, r2 = self.start(data_dir=srv.dir)
        self.assertIsNone(r2.get("k"))
        r2.set("k", "v2")
        try:
            r2.execute_command("SHUTDOWN", "SAVE")
        except redis.ConnectionError:
            pass
        r2.close()
        srv2.proc.wait(timeout=15)
        self.assertTrue(os.path.exists(os.path.join(srv.dir, SNAPSHOT)))
        srv.remove_dir()

    def test_save_point_triggers_a_background_save(self):
        srv, r = self.start("--save", "1 2")
        try:
            r.set("a", 1)
            r.set("b", 2)
            deadline = time.time() + 10
            while r.info("persistence")["rdb_changes_since_last_save"] != 0 and \
                    time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(r.info("persistence")["rdb_changes_since_last_save"], 0)
            self.assertTrue(os.path.exists(os.path.join(srv.dir, SNAPSHOT)))
        finally:
            r.close()
            srv.stop()

    def test_corrupt_snapshot_refuses_to_start_or_is_set_aside(self):
        srv, r = self.start()
        r.set("k", "v")
        r.save()
        r.close()
        srv.stop(remove_dir=False)
        path = os.path.join(srv.dir, SNAPSHOT)
        with open(path, "r+b") as f:
            f.seek(20)
            byte = f.read(1)
            f.seek(20)
            f.write(bytes([byte[0] ^ 0xFF]))
        argv = [harness.server_binary(), "--port", str(harness.find_free_port()), "--dir", srv.dir]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
        self.assertEqual(result.returncode, 1)
        self.assertIn(path, result.stdout + result.stderr)
        self.assertIn("offset", result.stdout + result.stderr)
        # The refusal is an orderly exit: the event loop closes cleanly.
        self.assertNotIn("handles still open", result.stdout + result.stderr)
        with open(path, "rb") as f:
            corrupt = f.read()
        # Opt in to starting empty: the bad file is kept aside, never overwritten.
        srv2, r2 = self.start("--start-empty-on-corrupt-snapshot", "yes", data_dir=srv.dir)
        try:
            self.assertIsNone(r2.get("k"))
            aside = [n for n in os.listdir(srv.dir) if n.startswith(SNAPSHOT + ".corrupt-")]
            self.assertEqual(len(aside), 1)
            with open(os.path.join(srv.dir, aside[0]), "rb") as f:
                self.assertEqual(f.read(), corrupt)
        finally:
            r2.close()
            srv2.stop()
            srv.remove_dir()


if __name__ == "__main__":
    harness.main()
