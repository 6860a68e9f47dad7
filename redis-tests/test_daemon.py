#!/usr/bin/python3
"""The server as a daemon and what operators read from it: daemonize with a
pid file, the log file reopened on SIGHUP (log rotation), readiness sent to
systemd, CONFIG REWRITE round trips that keep the file's comments, SLOWLOG,
and the INFO sections exporters scrape (server, clients, stats, keyspace,
commandstats, siblings).

SLOWLOG's entry shape and argument shortening are compared with a real
redis-server.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import RawConnection, decode, encode_command
from test_compat import CompatTestCase


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not reaped yet) is not alive for our purposes.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def info(conn, section):
    """INFO <section> as a dict of its fields."""
    text = decode(conn.call("INFO", section)).decode()
    fields = {}
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("#"):
            name, value = line.split(":", 1)
            fields[name] = value
    return fields


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Daemonize(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="causalkv-daemon-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))
        self.pidfile = os.path.join(self.tmp, "causalkv.pid")
        self.logfile = os.path.join(self.tmp, "causalkv.log")
        self.port = harness.find_free_port()

    def launch(self, *extra):
        return subprocess.run(
            [harness.server_binary(), "--daemonize", "yes", "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", os.path.join(self.tmp, "data"),
             "--pidfile", self.pidfile, "--logfile", self.logfile, *extra],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)

    def kill_daemon_at_cleanup(self, pid):
        def kill():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.addCleanup(kill)

    def test_daemonize_pidfile_sighup_log_reopen_and_clean_exit(self):
        r = self.launch()
        self.assertEqual(r.returncode, 0, r.stderr)
        # The launcher returns once the daemon is ready: the pid file is
        # there and the port answers at once.
        pid = int(read_file(self.pidfile))
        self.kill_daemon_at_cleanup(pid)
        self.assertTrue(alive(pid))
        self.assertNotEqual(pid, os.getpid())
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read().split(")")[-1].split()
        self.assertEqual(int(stat[3]), pid, "the daemon leads its own session")  # session id
        with RawConnection(self.port) as c:
            self.assertEqual(c.call("PING"), b"+PONG\r\n")
            self.assertEqual(info(c, "server")["process_id"], str(pid))
            self.assertEqual(decode(c.call("CONFIG", "GET", "daemonize")), [b"daemonize", b"yes"])

        # Log rotation: rename, SIGHUP, and the new file gets the lines.
        self.assertIn("ready", read_file(self.logfile))
        rotated = self.logfile + ".1"
        os.rename(self.logfile, rotated)
        os.kill(pid, signal.SIGHUP)
        wait_until(lambda: "log file reopened" in read_file(self.logfile),
                   what="a new log file after SIGHUP")
        self.assertTrue(alive(pid), "SIGHUP must not stop the server")
        rotated_before = read_file(rotated)

        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not alive(pid), timeout=15, what="the daemon to exit")
        self.assertIn("bye bye", read_file(self.logfile))
        self.assertEqual(read_file(rotated), rotated_before, "the old file got new lines")
        self.assertFalse(os.path.exists(self.pidfile), "the pid file is removed at exit")

    def test_a_daemon_that_cannot_start_fails_the_launcher(self):
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        self.port = blocker.getsockname()[1]
        r = self.launch()
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(self.pidfile))
        self.assertIn("could not listen", read_file(self.logfile))

    def test_supervised_systemd_stays_in_the_foreground_and_notifies(self):
        notify_path = os.path.join(self.tmp, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(notify.close)
        notify.bind(notify_path)
        notify.settimeout(15)
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        # daemonize yes is ignored under a supervisor, as in Redis.
        proc = subprocess.Popen(
            [harness.server_binary(), "--supervised", "systemd", "--daemonize", "yes",
             "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", os.path.join(self.tmp, "data"), "--logfile", self.logfile],
            env=env, stdin=subprocess.DEVNULL, preexec_fn=harness._child_preexec)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        message = notify.recv(4096).decode()
        self.assertIn("READY=1", message)
        self.assertIsNone(proc.poll(), "the server must stay in the foreground")
        with RawConnection(self.port) as c:
            self.assertEqual(c.call("PING"), b"+PONG\r\n")
            self.assertEqual(info(c, "server")["process_supervised"], "systemd")
        proc.terminate()
        self.assertIn("STOPPING=1", notify.recv(4096).decode())
        self.assertEqual(proc.wait(timeout=15), 0)

    def test_supervised_auto_without_a_supervisor_is_plain(self):
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "UPSTART_JOB")}
        proc = subprocess.Popen(
            [harness.server_binary(), "--supervised", "auto", "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", os.path.join(self.tmp, "data"),
             "--logfile", self.logfile],
            env=env, stdin=subprocess.DEVNULL, preexec_fn=harness._child_preexec)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        wait_until(lambda: "ready" in read_file(self.logfile), what="the server")
        with RawConnection(self.port) as c:
            self.assertEqual(info(c, "server")["process_supervised"], "no")
        proc.terminate()
        self.assertEqual(proc.wait(timeout=15), 0)


class ConfigRewrite(unittest.TestCase):
    CONF = (
        "# causalkv test config\n"
        "# (comments and blank lines must survive)\n"
        "\n"
        "timeout 0\n"
        "maxclients 1000\n"
        "   # an indented comment\n"
        "slowlog-max-len 128\n"
    )

    def start(self, path):
        def argv(port, d):
            return [harness.server_binary(), path, "--port", str(port), "--dir", d,
                    "--bind", "127.0.0.1"]
        srv = harness._start("causalkv-server", argv, None)
        self.addCleanup(srv.stop)
        return srv

    def test_round_trip_keeps_comments(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "causalkv.conf")
            with open(path, "w") as f:
                f.write(self.CONF)
            srv = self.start(path)
            with RawConnection(srv.port) as c:
                for name, value in (("timeout", "30"), ("maxclients", "500"),
                                    ("slowlog-log-slower-than", "2500"),
                                    ("client-output-buffer-limit", "normal 64mb 16mb 60"),
                                    ("client-query-buffer-limit", "8mb")):
                    self.assertEqual(c.call("CONFIG", "SET", name, value), b"+OK\r\n", name)
                self.assertEqual(c.call("CONFIG", "REWRITE"), b"+OK\r\n")
            text = read_file(path)
            lines = text.split("\n")
            # Comments and blank lines in place; values rewritten in place.
            self.assertEqual(lines[:7], ["# causalkv test config",
                                         "# (comments and blank lines must survive)",
                                         "", "timeout 30", "maxclients 500",
                                         "   # an indented comment", "slowlog-max-len 128"])
            self.assertIn("# Generated by CONFIG REWRITE\n", text)
            self.assertIn("\nslowlog-log-slower-than 2500\n", text)
            self.assertIn("\nclient-query-buffer-limit 8mb\n", text)
            self.assertIn("\nclient-output-buffer-limit normal 67108864 16777216 60 ", text)
            self.assertIn("\nport %d\n" % srv.port, text)  # command-line options too
            srv.stop()

            # A second server started from the rewritten file has the values.
            srv2 = self.start(path)
            with RawConnection(srv2.port) as c:
                for name, value in (("timeout", b"30"), ("maxclients", b"500"),
                                    ("slowlog-log-slower-than", b"2500"),
                                    ("client-query-buffer-limit", b"8388608")):
                    self.assertEqual(decode(c.call("CONFIG", "GET", name)),
                                     [name.encode(), value])
                self.assertEqual(c.call("CONFIG", "REWRITE"), b"+OK\r\n")
            # A second rewrite changes only what differs: this server's port and dir.
            def without_instance(t):
                return [line for line in t.split("\n")
                        if not line.startswith(("port ", "dir "))]
            self.assertEqual(without_instance(read_file(path)), without_instance(text))

    def test_without_a_config_file_as_redis(self):
        oracle = harness.start_redis_oracle()
        self.addCleanup(oracle.stop)
        srv = harness.start_server()
        self.addCleanup(srv.stop)
        replies = [harness.raw_command(s.port, encode_command("CONFIG", "REWRITE"))
                   for s in (oracle, srv)]
        self.assertEqual(replies[1], replies[0])
        self.assertEqual(replies[1], b"-ERR The server is running without a config file\r\n")


class SlowlogCompat(CompatTestCase):
    """Entry shape, truncation and redaction against Redis; times are not compared."""

    def setUp(self):
        super().setUp()
        for c in (self.oc, self.sc):
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
            c.call("CONFIG", "SET", "slowlog-max-len", "128")
            c.call("SLOWLOG", "RESET")
            c.call("CLIENT", "SETNAME", "tester")

        def restore():
            for c in (self.oc, self.sc):
                c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        self.addCleanup(restore)

    def entries(self, conn, count=-1):
        return decode(conn.call("SLOWLOG", "GET", count))

    def comparable(self, entries):
        """(args, client name) per entry, and the address with the port masked."""
        return [(e[3], re.sub(rb":\d+$", b":*", e[4]), e[5]) for e in entries]

    def test_entries_match_redis(self):
        self.same("SET", "k", "x" * 200)  # value cut at 128 bytes
        self.same("MSET", *["a%d" % i for i in range(40)])  # 40 args: 31 + "... (10 more ...)"
        self.same("AUTH", "default", "secret")  # redacted
        for c in (self.oc, self.sc):  # the reply names each server's version
            c.call("HELLO", "2", "AUTH", "default", "secret")
        self.same("CONFIG", "SET", "requirepass", "")
        self.same("MULTI")
        self.same("INCR", "n")
        self.same("EXEC")  # not logged; INCR is
        o, s = self.entries(self.oc), self.entries(self.sc)
        self.assertEqual(self.comparable(s), self.comparable(o))
        for e in s:
            self.assertEqual(len(e), 6)
            self.assertIsInstance(e[0], int)
            self.assertLess(abs(e[1] - time.time()), 60)
            self.assertGreaterEqual(e[2], 0)

    def test_get_len_reset_and_max_len(self):
        for i in range(5):
            self.same("SET", "k%d" % i, "v")
        self.same("SLOWLOG", "GET", "-2")
        self.same("SLOWLOG", "GET", "abc")
        self.same("SLOWLOG", "GET", "0")
        self.same("SLOWLOG", "NOSUCH")
        self.same("SLOWLOG", "HELP")
        o, s = self.entries(self.oc, 2), self.entries(self.sc, 2)
        self.assertEqual(self.comparable(s), self.comparable(o))
        self.assertEqual(len(s), 2)
        self.assertGreater(s[0][0], s[1][0], "newest first, ids increasing")
        for c in (self.oc, self.sc):
            c.call("CONFIG", "SET", "slowlog-max-len", "3")
            c.call("PING")
        self.same("SLOWLOG", "LEN")
        self.same("SLOWLOG", "RESET")
        # RESET itself is logged after the log was emptied, as in Redis.
        self.same("SLOWLOG", "LEN")

    def test_threshold(self):
        for c in (self.oc, self.sc):
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
            c.call("SLOWLOG", "RESET")
            c.call("SET", "a", "1")
        self.same("SLOWLOG", "LEN")
        for c in (self.oc, self.sc):
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000000")
            c.call("SET", "a", "1")
        self.same("SLOWLOG", "LEN")


class InfoSections(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_server(None, "--hz", "50")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.c = RawConnection(self.server.port)
        self.addCleanup(self.c.close)
        self.c.call("FLUSHALL")

    def test_server_section(self):
        fields = info(self.c, "server")
        self.assertEqual(fields["process_id"], str(self.server.proc.pid))
        self.assertRegex(fields["run_id"], r"^[0-9a-f]{40}$")
        self.assertNotEqual(fields["run_id"], "0" * 40)
        self.assertEqual(fields["tcp_port"], str(self.server.port))
        for name in ("redis_version", "causalkv_version", "uptime_in_seconds", "config_file",
                     "executable", "hz", "configured_hz", "os", "process_supervised"):
            self.assertIn(name, fields)

    def test_clients_and_stats_sections(self):
        clients = info(self.c, "clients")
        for name in ("connected_clients", "maxclients", "blocked_clients",
                     "client_recent_max_input_buffer", "client_recent_max_output_buffer"):
            self.assertRegex(clients[name], r"^\d+$", name)
        self.assertEqual(clients["maxclients"], "10000")
        # instantaneous_ops_per_sec is sampled every 100 ms over the last 1.6 s.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            self.c.call("PING")
        stats = info(self.c, "stats")
        self.assertGreater(int(stats["instantaneous_ops_per_sec"]), 10)
        for name in ("total_connections_received", "total_commands_processed",
                     "keyspace_hits", "keyspace_misses", "expired_keys", "evicted_keys",
                     "rejected_connections", "instantaneous_input_kbps",
                     "instantaneous_output_kbps"):
            self.assertIn(name, stats)

    def test_commandstats(self):
        self.assertEqual(self.c.call("CONFIG", "RESETSTAT"), b"+OK\r\n")
        self.c.call("SET", "n", "abc")
        self.c.call("GET", "n")
        self.c.call("GET", "n")
        self.c.call("INCR", "n")  # fails: not an integer
        self.c.call("GET")  # rejected: wrong arity
        self.c.call("CLIENT", "ID")
        text = decode(self.c.call("INFO", "commandstats")).decode()
        stats = dict(re.findall(r"cmdstat_([a-z|]+):(.*)\r\n", text))
        self.assertRegex(stats["get"],
                         r"^calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,"
                         r"failed_calls=0$")
        self.assertRegex(stats["incr"], r"^calls=1,.*,rejected_calls=0,failed_calls=1$")
        self.assertIn("client|id", stats)
        self.assertNotIn("cmdstat_", decode(self.c.call("INFO")).decode(),
                         "commandstats is not a default section")
        self.assertIn("# Commandstats", decode(self.c.call("INFO", "all")).decode())
        self.c.call("CONFIG", "RESETSTAT")
        text = decode(self.c.call("INFO", "commandstats")).decode()
        self.assertNotIn("cmdstat_get:", text)

    def wait_for_survey(self, predicate):
        """The siblings figures come from a background pass: poll."""
        last = {}

        def check():
            nonlocal last
            last = info(self.c, "siblings")
            return predicate(last)
        try:
            wait_until(check, timeout=10, what="the keyspace survey")
        except AssertionError:
            raise AssertionError("INFO siblings stayed %r" % last)
        return last

    def test_siblings_section(self):
        # Three writers that never read: three siblings on one key.
        for value in ("a", "b", "c"):
            self.c.call("VPUT", "cart", "0", value)
        self.c.call("VPUT", "merged", "0", "x")
        fields = self.wait_for_survey(lambda f: f.get("keys_with_siblings") == "1")
        self.assertEqual(fields["largest_sibling_count"], "3")
        self.assertEqual(fields["total_siblings"], "4")
        self.assertEqual(fields["largest_sibling_key"], "cart")
        self.assertEqual(fields["largest_sibling_db"], "0")
        self.assertEqual(fields["survey_keys"], "2")
        # A merge brings it back to one sibling.
        version = decode(self.c.call("VGET", "cart"))[0]
        self.c.call("VPUT", "cart", str(version), "abc")
        self.wait_for_survey(lambda f: f.get("keys_with_siblings") == "0")

    def test_keyspace_avg_ttl(self):
        self.c.call("SET", "t1", "v", "EX", "100")
        self.c.call("SET", "t2", "v", "EX", "200")
        self.c.call("SET", "plain", "v")

        def keyspace():
            return info(self.c, "keyspace").get("db0", "")
        wait_until(lambda: re.search(r"avg_ttl=[1-9]", keyspace()) is not None,
                   what="avg_ttl")
        m = re.match(r"keys=3,expires=2,avg_ttl=(\d+)$", keyspace())
        self.assertIsNotNone(m, keyspace())
        self.assertTrue(140000 <= int(m.group(1)) <= 150000, keyspace())


if __name__ == "__main__":
    harness.main()
