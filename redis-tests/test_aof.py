#!/usr/bin/python3
"""The append-only log through the real server: with appendfsync always every
acknowledged write survives kill -9 (siblings and versions exact), with
everysec at most about a second is lost, every kind of write (and eviction)
replays to the same state, and a damaged log is cut (torn tail, with
aof-load-truncated yes) or refused with the file and offset. In every case no
version is ever issued twice.
"""

import contextlib
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import unittest

import redis

import harness

AOF = "appendonly.ckv"


def vget(r, key):
    version, values = r.execute_command("VGET", key)
    return int(version), list(values)


def dump(r, databases=16):
    """Every key of every database: (db, key) -> (version, values, has_ttl)."""
    state = {}
    for db in range(databases):
        r.execute_command("SELECT", db)
        for key in r.keys("*"):
            version, values = vget(r, key)
            state[(db, key)] = (version, values, r.pttl(key) > 0)
    r.execute_command("SELECT", 0)
    return state


def raw(srv, *args):
    with harness.RawConnection(srv.port) as c:
        return c.call(*args)


def wait_for_rewrites(r, count, timeout=30):
    """Waits until `count` log rewrites have finished and none is running or
    scheduled; returns INFO persistence then."""
    deadline = time.time() + timeout
    while True:
        info = r.info("persistence")
        if (info["aof_rewrites"] >= count and not info["aof_rewrite_in_progress"]
                and not info["aof_rewrite_scheduled"]):
            return info
        if time.time() > deadline:
            raise AssertionError("no rewrite #%d within %ss: %s" % (count, timeout, info))
        time.sleep(0.02)


class AppendOnly(unittest.TestCase):
    def start(self, *args, data_dir=None):
        srv = harness.start_server(None, "--appendonly", "yes", *args, data_dir=data_dir)
        return srv, redis.Redis(port=srv.port)

    def wait_for_base(self, srv):
        """The first timer tick writes the base the log starts from (and
        empties the log: what it held is in the base)."""
        base = os.path.join(srv.dir, AOF + ".base")
        deadline = time.time() + 10
        while not os.path.exists(base) and time.time() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(base))

    def writer_until_killed(self, srv, r, seconds):
        """VPUTs (blind ones make siblings) until kill -9 at a random moment.
        Returns ({key: (version, values, ack_time)}, in-flight key, kill time)."""
        acked = {}
        in_flight = [None]
        killed_at = [None]

        def kill():
            killed_at[0] = time.monotonic()
            srv.proc.kill()
        timer = threading.Timer(seconds, kill)
        timer.start()
        rnd = random.Random(os.getpid())
        i = 0
        try:
            while True:
                key = "k%d" % rnd.randrange(200)
                seen = acked[key][0] if key in acked and rnd.random() < 0.7 else 0
                in_flight[0] = key
                version, values = r.execute_command("VPUT", key, seen, "v%d" % i)
                acked[key] = (int(version), list(values), time.monotonic())
                i += 1
        except (redis.ConnectionError, ConnectionError):
            pass
        finally:
            timer.cancel()
        srv.kill9()
        r.close()
        return acked, in_flight[0], killed_at[0]

    def test_always_keeps_every_acknowledged_write(self):
        for attempt in range(3):
            srv, r = self.start("--appendfsync", "always")
            acked, in_flight, _ = self.writer_until_killed(
                srv, r, random.uniform(0.3, 1.5) + attempt * 0.2)
            self.assertGreater(len(acked), 10)
            srv2, r2 = self.start("--appendfsync", "always", data_dir=srv.dir)
            try:
                highest = max(v for v, _, _ in acked.values())
                for key, (version, values, _) in acked.items():
                    got = vget(r2, key)
                    if key == in_flight and got != (version, values):
                        # The write the kill interrupted may have been logged.
                        self.assertGreater(got[0], version)
                        continue
                    self.assertEqual(got, (version, values), key)
                # No version is issued twice.
                harness.assert_versions_resume_above(self, r2, highest)
                info = r2.info("persistence")
                self.assertEqual(info["aof_enabled"], 1)
                self.assertEqual(info["aof_last_write_status"], "ok")
                self.assertGreater(info["aof_current_size"], 0)
            finally:
                r2.close()
                srv2.stop()
                srv.remove_dir()

    def test_everysec_loses_at_most_about_a_second(self):
        srv, r = self.start("--appendfsync", "everysec")
        acked, _, killed_at = self.writer_until_killed(srv, r, 2.5)
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            highest = max(v for v, _, _ in acked.values())
            for key, (version, values, at) in acked.items():
                got = vget(r2, key)
                if got[0] >= version:
                    continue
                # kill -9 leaves the page cache, so normally nothing is lost;
                # what may be is only the last second or so.
                self.assertGreater(at, killed_at - 2.0, (key, got, version))
            harness.assert_versions_resume_above(self, r2, highest)
        finally:
            r2.close()
            srv2.stop()
            srv.remove_dir()

    def test_every_kind_of_write_replays_exactly(self):
        srv, r = self.start()
        r.execute_command("VPUT", "cart", 0, "milk")
        r.execute_command("VPUT", "cart", 0, "eggs")
        r.set("plain", "1")
        r.incr("plain")
        r.append("plain", "0")
        r.set("ttl", "x", ex=1000)
        r.set("gone", "x")
        r.delete("gone")
        r.set("short", "x", px=50)
        r.mset({"m1": "a", "m2": "b"})
        r.rename("m1", "renamed")
        r.set("moved", "x")
        r.move("moved", 5)
        r.execute_command("SELECT", 3)
        r.set("flushed", "x")
        r.flushdb()
        r.execute_command("SELECT", 0)
        r.set("bin", b"\x00\r\n\xff")
        r.set("empty", "")
        r.set("persisted", "x", ex=100)
        r.persist("persisted")
        r.set("big", b"v" * (10 * 1024 * 1024))
        for db in range(16):
            r.execute_command("SELECT", db)
            r.execute_command("VPUT", "db%d" % db, 0, "a")
            r.execute_command("VPUT", "db%d" % db, 0, "b")
        r.execute_command("SELECT", 0)
        r.save()  # the log is replayed over the snapshot
        r.execute_command("VPUT", "cart", 0, "flour")
        r.set("after-save", "y")
        time.sleep(0.1)  # "short" expires
        before = dump(r)
        self.assertNotIn((0, b"short"), before)
        r.close()
        srv.kill9()
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            self.assertEqual(dump(r2), before)
            self.assertEqual(r2.get("plain"), b"20")
            r2.flushall()
            r2.close()
            srv2.kill9()
            srv3, r3 = self.start(data_dir=srv.dir)
            self.assertEqual(dump(r3), {})
            r3.close()
            srv3.stop()
        finally:
            srv.remove_dir()

    def test_writes_without_replies_reach_the_log(self):
        srv, r = self.start("--appendfsync", "always")
        self.wait_for_base(srv)
        conn = harness.RawConnection(srv.port)
        conn.send(harness.encode_command("CLIENT", "REPLY", "OFF"))
        conn.send(harness.encode_command("SET", "silent", "1"))
        time.sleep(0.5)  # no reply pushes the log out; the timer does
        with open(os.path.join(srv.dir, AOF), "rb") as f:
            self.assertIn(b"silent", f.read())
        conn.close()
        r.close()
        srv.kill9()
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            self.assertEqual(r2.get("silent"), b"1")
        finally:
            r2.close()
            srv2.stop()
            srv.remove_dir()

    def test_evicted_keys_stay_gone(self):
        srv, r = self.start("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random")
        for i in range(400):
            r.set("key%d" % i, "x" * 20000)
        before = dump(r)
        self.assertLess(len(before), 400)
        r.close()
        srv.kill9()
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            self.assertEqual(dump(r2), before)
        finally:
            r2.close()
            srv2.stop()
            srv.remove_dir()

    def test_rewrite_keeps_everything_and_empties_the_log(self):
        srv, r = self.start("--auto-aof-rewrite-percentage", "0")
        wait_for_rewrites(r, 1)  # the first base, written at start
        for i in range(100):
            r.execute_command("VPUT", "k%d" % (i % 10), 0, "v%d" % i)
        r.set("deleted", "x")
        grown = r.info("persistence")["aof_current_size"]
        self.assertEqual(raw(srv, "BGREWRITEAOF"),
                         b"+Background append only file rewriting started\r\n")
        info = wait_for_rewrites(r, 2)
        self.assertLess(info["aof_current_size"], grown)
        self.assertEqual(info["aof_last_bgrewrite_status"], "ok")
        self.assertGreater(info["aof_base_size"], 0)
        self.assertTrue(os.path.exists(os.path.join(srv.dir, AOF + ".base")))
        self.assertFalse(os.path.exists(os.path.join(srv.dir, AOF + ".next")))
        r.delete("deleted")
        r.execute_command("VPUT", "k1", 0, "after")
        before = dump(r)
        r.close()
        srv.kill9()
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            self.assertEqual(dump(r2), before)
            self.assertIsNone(r2.get("deleted"))
        finally:
            r2.close()
            srv2.stop()
            srv.remove_dir()

    def test_automatic_rewrite(self):
        srv, r = self.start("--auto-aof-rewrite-min-size", "64kb", "--hz", "50")
        try:
            wait_for_rewrites(r, 1)
            for i in range(200):
                r.set("key", "x" * 1000 + str(i))
            deadline = time.time() + 10
            while r.info("persistence")["aof_current_size"] >= 64 * 1024 and time.time() < deadline:
                time.sleep(0.05)
            self.assertLess(r.info("persistence")["aof_current_size"], 64 * 1024)
            self.assertIn("has grown past its base", srv.log_text())
            expected = r.get("key")
            wait_for_rewrites(r, 2)
            r.close()
            srv.kill9()
            srv2, r2 = self.start(data_dir=srv.dir)
            self.assertEqual(r2.get("key"), expected)
            r2.close()
            srv2.stop()
        finally:
            srv.remove_dir()

    def test_bgrewriteaof_without_appendonly_is_an_error(self):
        srv = harness.start_server(None)
        r = redis.Redis(port=srv.port)
        try:
            with self.assertRaises(redis.ResponseError):
                r.execute_command("BGREWRITEAOF")
            self.assertEqual(r.info("persistence")["aof_enabled"], 0)
        finally:
            r.close()
            srv.stop()

    def run_refused(self, data_dir, *args):
        argv = [harness.server_binary(), "--port", str(harness.find_free_port()), "--dir",
                data_dir, "--appendonly", "yes"] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def logged_server(self):
        srv, r = self.start()
        for i in range(20):
            r.set("k%d" % i, "value%d" % i)
        r.close()
        srv.kill9()
        path = os.path.join(srv.dir, AOF)
        with open(path, "rb") as f:
            return srv, path, f.read()

    def test_torn_tail_is_cut_or_refused(self):
        srv, path, data = self.logged_server()
        try:
            with open(path, "wb") as f:
                f.write(data[:-5])
            result = self.run_refused(srv.dir, "--aof-load-truncated", "no")
            self.assertEqual(result.returncode, 1)
            self.assertIn(path, result.stdout + result.stderr)
            self.assertIn("offset", result.stdout + result.stderr)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data[:-5])
            srv2, r2 = self.start(data_dir=srv.dir)  # aof-load-truncated yes by default
            try:
                self.assertIsNone(r2.get("k19"))
                self.assertEqual(r2.get("k18"), b"value18")
                self.assertIn("truncated", srv2.log_text())
                r2.set("k19", "again")
            finally:
                r2.close()
                srv2.kill9()
            srv3, r3 = self.start(data_dir=srv.dir)
            self.assertEqual(r3.get("k19"), b"again")
            r3.close()
            srv3.stop()
        finally:
            srv.remove_dir()

    def test_damage_before_the_end_refuses(self):
        srv, path, data = self.logged_server()
        try:
            damaged = bytearray(data)
            damaged[len(data) // 2] ^= 0xFF
            with open(path, "wb") as f:
                f.write(bytes(damaged))
            for truncated in ("yes", "no"):
                result = self.run_refused(srv.dir, "--aof-load-truncated", truncated)
                self.assertEqual(result.returncode, 1)
                self.assertIn(path, result.stdout + result.stderr)
                self.assertIn("offset", result.stdout + result.stderr)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), bytes(damaged))
        finally:
            srv.remove_dir()


BIG_KEYS = 1500
BIG_VALUE = 64 * 1024


def fill_big(r, prefix="big"):
    """About 100 MB of values, so that writing a snapshot of them takes long
    enough to watch the loop serve meanwhile."""
    pipe = r.pipeline(transaction=False)
    for i in range(BIG_KEYS):
        pipe.set("%s:%d" % (prefix, i), (b"%08d" % i) * (BIG_VALUE // 8))
        if i % 100 == 99:
            pipe.execute()
    pipe.execute()


def check_big(test, r, prefix="big"):
    test.assertEqual(r.dbsize() >= BIG_KEYS, True)
    for i in (0, BIG_KEYS // 2, BIG_KEYS - 1):
        test.assertEqual(r.get("%s:%d" % (prefix, i)), (b"%08d" % i) * (BIG_VALUE // 8))


class BackgroundRewrite(unittest.TestCase):
    """BGREWRITEAOF forks: the loop keeps serving, writes made meanwhile go
    to <log>.next, and a crash at any point loses nothing acknowledged."""

    def start(self, *args, data_dir=None):
        srv = harness.start_server(None, "--appendonly", "yes", "--appendfsync", "always",
                                   "--auto-aof-rewrite-percentage", "0", "--hz", "50", *args,
                                   data_dir=data_dir)
        return srv, redis.Redis(port=srv.port)

    @contextlib.contextmanager
    def restarted(self, srv):
        """A client of a new server on srv's directory, stopped on exit."""
        srv2, r2 = self.start(data_dir=srv.dir)
        try:
            yield r2
        finally:
            r2.close()
            srv2.stop()

    def path(self, srv, suffix=""):
        return os.path.join(srv.dir, AOF + suffix)

    def test_loop_serves_while_the_child_writes(self):
        srv, r = self.start()
        try:
            wait_for_rewrites(r, 1)
            fill_big(r)
            r.execute_command("VPUT", "cart", 0, "milk")
            started = time.monotonic()
            self.assertEqual(raw(srv, "BGREWRITEAOF"),
                             b"+Background append only file rewriting started\r\n")
            self.assertLess(time.monotonic() - started, 0.5)
            self.assertEqual(r.info("persistence")["aof_rewrite_in_progress"], 1)
            self.assertEqual(raw(srv, "BGREWRITEAOF"),
                             b"-ERR Background append only file rewriting already in progress\r\n")
            # While the child writes, every command is answered promptly and
            # every write goes to <log>.next.
            served = 0
            slowest = 0.0
            while r.info("persistence")["aof_rewrite_in_progress"]:
                t = time.monotonic()
                r.execute_command("VPUT", "during:%d" % served, 0, "v%d" % served)
                slowest = max(slowest, time.monotonic() - t)
                served += 1
            self.assertGreater(served, 10, "the rewrite ended too soon to watch")
            self.assertLess(slowest, 0.5)
            info = wait_for_rewrites(r, 2)
            self.assertEqual(info["aof_last_bgrewrite_status"], "ok")
            self.assertGreaterEqual(info["aof_last_rewrite_time_sec"], 0)
            self.assertFalse(os.path.exists(self.path(srv, ".next")))
            self.assertFalse(os.path.exists(self.path(srv, ".base.new")))
            self.assertGreater(os.path.getsize(self.path(srv, ".base")),
                               BIG_KEYS * BIG_VALUE)
            r.execute_command("VPUT", "cart", 0, "eggs")
            expected = {k: vget(r, k) for k in ["cart"] + ["during:%d" % i for i in range(served)]}
            r.close()
            srv.kill9()
            with self.restarted(srv) as r2:
                check_big(self, r2)
                self.assertEqual({k: vget(r2, k) for k in expected}, expected)
        finally:
            srv.remove_dir()

    def test_kill9_during_a_rewrite_loses_no_acknowledged_write(self):
        srv, r = self.start()
        data_dir = srv.dir
        try:
            wait_for_rewrites(r, 1)
            fill_big(r)
            acked = {}
            interrupted = 0
            for attempt in range(4):
                raw(srv, "BGREWRITEAOF")
                deadline = time.monotonic() + random.uniform(0.01, 0.2)
                i = 0
                while time.monotonic() < deadline:
                    key = "k%d" % random.randrange(50)
                    seen = acked[key][0] if key in acked else 0
                    version, values = r.execute_command("VPUT", key, seen, "a%d-%d" % (attempt, i))
                    acked[key] = (int(version), list(values))
                    i += 1
                r.close()
                srv.kill9()
                # Usually the child is still writing; if it was quicker than
                # the kill, this round checks a crash after a rewrite.
                last_interrupted = os.path.exists(os.path.join(data_dir, AOF + ".next"))
                interrupted += last_interrupted
                srv, r = self.start(data_dir=data_dir)
                check_big(self, r)
                for key, value in acked.items():
                    self.assertEqual(vget(r, key), value, (attempt, key))
            self.assertGreater(interrupted, 0, "no kill landed during a rewrite")
            # The restarted server folds <log>.next into a new base on its own
            # (when the last kill left one: a fast child may have finished).
            if last_interrupted:
                wait_for_rewrites(r, 1)
            self.assertFalse(os.path.exists(os.path.join(data_dir, AOF + ".next")))
            r.close()
            srv.kill9()
            srv, r = self.start(data_dir=data_dir)
            check_big(self, r)
            for key, value in acked.items():
                self.assertEqual(vget(r, key), value, key)
            r.close()
            srv.stop(remove_dir=False)
        finally:
            shutil.rmtree(os.path.dirname(data_dir), ignore_errors=True)

    def test_shutdown_during_a_rewrite_stops_it_and_loses_nothing(self):
        srv, r = self.start()
        try:
            wait_for_rewrites(r, 1)
            fill_big(r)
            self.assertEqual(raw(srv, "BGREWRITEAOF"),
                             b"+Background append only file rewriting started\r\n")
            r.execute_command("VPUT", "cart", 0, "milk")
            expected = vget(r, "cart")
            r.close()
            srv.stop(remove_dir=False)  # SIGTERM: the child is stopped, not waited for
            self.assertIn("log rewrite by pid", srv.log_text(20000))
            self.assertEqual([f for f in os.listdir(srv.dir) if f.startswith("temp-")], [])
            self.assertFalse(os.path.exists(self.path(srv, ".base.new")))
            with self.restarted(srv) as r2:
                check_big(self, r2)
                self.assertEqual(vget(r2, "cart"), expected)
                wait_for_rewrites(r2, 1)
                self.assertFalse(os.path.exists(self.path(srv, ".next")))
        finally:
            srv.remove_dir()

    def test_finished_base_not_yet_renamed_is_discarded(self):
        # The child has written <log>.base.new, the parent dies before the
        # renames: the old base + <log> + <log>.next are the state.
        srv, r = self.start()
        try:
            wait_for_rewrites(r, 1)
            fill_big(r)
            r.set("before", "1")
            # The reply comes once the child is forked; the stopped parent
            # cannot reap it nor rename its file.
            raw(srv, "BGREWRITEAOF")
            os.kill(srv.proc.pid, signal.SIGSTOP)
            new_base = self.path(srv, ".base.new")
            deadline = time.time() + 30
            while not os.path.exists(new_base) and time.time() < deadline:
                time.sleep(0.01)
            self.assertTrue(os.path.exists(new_base))
            srv.kill9()
            r.close()
            with self.restarted(srv) as r2:
                check_big(self, r2)
                self.assertEqual(r2.get("before"), b"1")
                # It adopts <log>.next and rewrites; nothing of the old
                # child's stays behind.
                wait_for_rewrites(r2, 1)
                self.assertEqual(sorted(f for f in os.listdir(srv.dir) if AOF in f),
                                 [AOF, AOF + ".base"])
                self.assertEqual([f for f in os.listdir(srv.dir) if f.startswith("temp-")], [])
        finally:
            srv.remove_dir()

    def test_crash_between_the_two_renames(self):
        # The new base is in place but <log>.next is not yet renamed over
        # <log>: replaying the old <log> over the newer base changes nothing.
        srv, r = self.start()
        try:
            wait_for_rewrites(r, 1)
            r.execute_command("VPUT", "cart", 0, "milk")
            r.set("gone-later", "x")
            r.execute_command("FLUSHDB")
            r.set("a", "1")
            r.execute_command("VPUT", "cart", 0, "eggs")
            with open(self.path(srv), "rb") as f:
                old_log = f.read()
            raw(srv, "BGREWRITEAOF")
            wait_for_rewrites(r, 2)
            r.set("b", "2")
            r.delete("a")
            r.execute_command("VPUT", "cart", 0, "ham")
            r.expire("b", 1000)
            expected = dump(r)
            r.close()
            srv.kill9()
            with open(self.path(srv), "rb") as f:
                next_log = f.read()
            with open(self.path(srv, ".next"), "wb") as f:
                f.write(next_log)
            with open(self.path(srv), "wb") as f:
                f.write(old_log)
            with self.restarted(srv) as r2:
                self.assertEqual(dump(r2), expected)
        finally:
            srv.remove_dir()

    def test_bgsave_and_rewrite_take_turns(self):
        srv, r = self.start()
        try:
            wait_for_rewrites(r, 1)
            fill_big(r)
            self.assertEqual(raw(srv, "BGSAVE"), b"+Background saving started\r\n")
            self.assertEqual(raw(srv, "BGREWRITEAOF"),
                             b"+Background append only file rewriting scheduled\r\n")
            self.assertEqual(r.info("persistence")["aof_rewrite_scheduled"], 1)
            self.assertEqual(raw(srv, "BGSAVE"),
                             b"-ERR Background save already in progress\r\n")
            # The rewrite starts when the save ends.
            deadline = time.time() + 30
            while not r.info("persistence")["aof_rewrite_in_progress"]:
                self.assertLess(time.time(), deadline)
                time.sleep(0.005)
            self.assertEqual(r.info("persistence")["rdb_last_bgsave_status"], "ok")
            self.assertEqual(raw(srv, "BGSAVE"),
                             b"-ERR Another child process is active (AOF?): can't BGSAVE right "
                             b"now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                             b"possible\r\n")
            self.assertEqual(raw(srv, "BGSAVE", "SCHEDULE"), b"+Background saving scheduled\r\n")
            saved_before = r.lastsave()
            wait_for_rewrites(r, 2)
            deadline = time.time() + 30
            while True:
                info = r.info("persistence")
                if not info["rdb_bgsave_scheduled"] and not info["rdb_bgsave_in_progress"]:
                    break
                self.assertLess(time.time(), deadline)
                time.sleep(0.02)
            self.assertEqual(info["rdb_last_bgsave_status"], "ok")
            self.assertEqual(info["aof_last_bgrewrite_status"], "ok")
            self.assertGreaterEqual(r.lastsave(), saved_before)
            self.assertTrue(os.path.exists(os.path.join(srv.dir, "dump.ckv")) or
                            any(f.endswith(".ckv") for f in os.listdir(srv.dir)))
        finally:
            r.close()
            srv.stop()

    def test_config_set_appendonly(self):
        srv = harness.start_server(None, "--save", "", "--hz", "50")
        r = redis.Redis(port=srv.port)
        try:
            r.execute_command("VPUT", "cart", 0, "milk")
            r.execute_command("VPUT", "cart", 0, "eggs")
            r.set("ttl", "x", ex=1000)
            r.execute_command("SELECT", 7)
            r.set("in7", "y")
            r.execute_command("SELECT", 0)
            self.assertTrue(r.config_set("appendonly", "yes"))
            self.assertEqual(r.config_get("appendonly"), {"appendonly": "yes"})
            info = wait_for_rewrites(r, 1)
            self.assertEqual(info["aof_enabled"], 1)
            r.execute_command("VPUT", "cart", 0, "ham")
            expected = dump(r)
            r.close()
            srv.kill9()
            srv2, r2 = harness.start_server(None, "--appendonly", "yes", data_dir=srv.dir), None
            r2 = redis.Redis(port=srv2.port)
            self.assertEqual(dump(r2), expected)
            # Off: the log stops growing; on again: a fresh log of the state now.
            self.assertTrue(r2.config_set("appendonly", "no"))
            self.assertEqual(r2.info("persistence")["aof_enabled"], 0)
            size = os.path.getsize(os.path.join(srv.dir, AOF))
            r2.set("unlogged", "1")
            self.assertEqual(os.path.getsize(os.path.join(srv.dir, AOF)), size)
            self.assertTrue(r2.config_set("appendonly", "yes"))
            wait_for_rewrites(r2, 1)
            r2.set("logged", "2")
            expected = dump(r2)
            r2.close()
            srv2.kill9()
            srv3 = harness.start_server(None, "--appendonly", "yes", data_dir=srv.dir)
            r3 = redis.Redis(port=srv3.port)
            self.assertEqual(dump(r3), expected)
            self.assertEqual(r3.get("unlogged"), b"1")
            r3.close()
            srv3.stop()
        finally:
            srv.remove_dir()


if __name__ == "__main__":
    harness.main()
