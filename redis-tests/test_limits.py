#!/usr/bin/python3
"""Protection and client limits, as an operator running a cache meets them:
AUTH and protected mode, maxclients, the idle timeout, the output and query
buffer limits (a greedy client is disconnected while the others keep getting
answers), CLIENT KILL, CLIENT PAUSE, CLIENT LIST fields and the unix socket.

Where Redis is the spec (error texts, the -DENIED explanation, CLIENT KILL
and PAUSE replies) the same commands go to a real redis-server and the raw
replies are compared.

Protected mode needs a client address that is not loopback: the tests bind
the servers to this machine's own non-loopback IPv4 address (from
`hostname -I`) and connect to it, so the client's source address is that
address too. Without one, those tests are skipped (the decision itself is
unit-tested in tests/server/client_limits_test.cc).
"""

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import RawConnection, decode, encode_command
from test_compat import CompatTestCase


def non_loopback_ipv4():
    """An IPv4 address of this machine other than 127.x, or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for addr in out.split():
        if "." in addr and not addr.startswith("127."):
            return addr
    return None


def info_field(conn, section, name):
    text = decode(conn.call("INFO", section)).decode()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("no %s in INFO %s:\n%s" % (name, section, text))


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def read_until_closed(sock, timeout=10.0):
    """Everything the peer sends until it closes (or resets) the connection."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


class ServerTestCase(unittest.TestCase):
    """One causalkv server per test, with extra command-line options."""

    extra_args = ()

    def setUp(self):
        self.server = harness.start_server(None, *self.extra_args)
        self.addCleanup(self.server.stop)

    def conn(self):
        c = RawConnection(self.server.port)
        self.addCleanup(c.close)
        return c


# ---------------------------------------------------------------------------
# AUTH and protected mode

class Auth(ServerTestCase):
    extra_args = ("--requirepass", "s3cret")

    def test_noauth_before_auth_then_commands_work(self):
        c = self.conn()
        self.assertEqual(c.call("GET", "k"), b"-NOAUTH Authentication required.\r\n")
        self.assertEqual(c.call("AUTH", "wrong"),
                         b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        self.assertEqual(c.call("AUTH", "s3cret"), b"+OK\r\n")
        self.assertEqual(c.call("SET", "k", "v"), b"+OK\r\n")

    def test_auth_default_user_and_hello_auth(self):
        c = self.conn()
        self.assertEqual(c.call("AUTH", "default", "s3cret"), b"+OK\r\n")
        c2 = self.conn()
        reply = decode(c2.call("HELLO", "3", "AUTH", "default", "s3cret"))
        self.assertEqual(reply[b"proto"], 3)
        self.assertEqual(c2.call("PING"), b"+PONG\r\n")

    def test_unauthenticated_client_is_held_to_1mb_of_query_buffer(self):
        # As Redis 7.2: before AUTH, a client cannot make the server buffer
        # more than 1 MB, whatever client-query-buffer-limit says.
        c = self.conn()
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        try:
            for _ in range(40):
                c.send(b"x" * 65536)
        except OSError:
            pass
        self.assertTrue(c.is_closed_by_peer(5.0))


class ProtectedMode(unittest.TestCase):
    """Clients from a non-loopback address, with and without a password."""

    @classmethod
    def setUpClass(cls):
        cls.ip = non_loopback_ipv4()
        if cls.ip is None:
            raise unittest.SkipTest("this machine has no non-loopback IPv4 address")

    def start(self, *args):
        srv = harness.start_server(None, "--bind", "127.0.0.1", self.ip, *args)
        self.addCleanup(srv.stop)
        return srv

    def connect_external(self, port):
        s = socket.create_connection((self.ip, port), timeout=10)
        self.addCleanup(s.close)
        return s

    def test_denied_with_redis_text_and_closed(self):
        srv = self.start()
        oracle = harness.start_redis_oracle("--bind", "127.0.0.1", self.ip)
        self.addCleanup(oracle.stop)
        ours = read_until_closed(self.connect_external(srv.port))
        theirs = read_until_closed(self.connect_external(oracle.port))
        self.assertTrue(theirs.startswith(b"-DENIED Redis is running in protected mode"), theirs)
        self.assertEqual(ours, theirs)
        with RawConnection(srv.port) as local:  # loopback is always fine
            self.assertEqual(local.call("PING"), b"+PONG\r\n")
            self.assertEqual(info_field(local, "stats", "rejected_connections"), "1")

    def test_password_lifts_protected_mode(self):
        srv = self.start("--requirepass", "pw")
        s = self.connect_external(srv.port)
        s.sendall(b"AUTH pw\r\nPING\r\n")
        s.settimeout(10)
        data = b""
        while data.count(b"\r\n") < 2:
            chunk = s.recv(1024)
            self.assertTrue(chunk, "closed after %r" % data)
            data += chunk
        self.assertEqual(data, b"+OK\r\n+PONG\r\n")

    def test_config_set_protected_mode_no_at_runtime(self):
        srv = self.start()
        with RawConnection(srv.port) as local:
            self.assertEqual(local.call("CONFIG", "SET", "protected-mode", "no"), b"+OK\r\n")
        s = self.connect_external(srv.port)
        s.sendall(b"PING\r\n")
        s.settimeout(10)
        self.assertEqual(s.recv(100), b"+PONG\r\n")

    def test_protected_mode_no_on_the_command_line(self):
        srv = self.start("--protected-mode", "no")
        s = self.connect_external(srv.port)
        s.sendall(b"PING\r\n")
        s.settimeout(10)
        self.assertEqual(s.recv(100), b"+PONG\r\n")


# ---------------------------------------------------------------------------
# maxclients and the idle timeout

class MaxClients(ServerTestCase):
    extra_args = ("--maxclients", "3")

    def test_extra_client_gets_the_error_and_is_closed(self):
        kept = [self.conn() for _ in range(3)]
        for c in kept:
            self.assertEqual(c.call("PING"), b"+PONG\r\n")
        extra = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        self.addCleanup(extra.close)
        self.assertEqual(read_until_closed(extra), b"-ERR max number of clients reached\r\n")
        self.assertEqual(info_field(kept[0], "stats", "rejected_connections"), "1")
        self.assertEqual(info_field(kept[0], "clients", "maxclients"), "3")
        # A slot freed is a slot available again.
        kept.pop().close()
        wait_until(lambda: info_field(kept[0], "clients", "connected_clients") == "2",
                   what="the closed client to go")
        with RawConnection(self.server.port) as again:
            self.assertEqual(again.call("PING"), b"+PONG\r\n")

    def test_config_set_maxclients(self):
        c = self.conn()
        self.assertEqual(c.call("CONFIG", "SET", "maxclients", "1"), b"+OK\r\n")
        extra = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        self.addCleanup(extra.close)
        self.assertEqual(read_until_closed(extra), b"-ERR max number of clients reached\r\n")


class MaxClientsAndOpenFilesLimit(unittest.TestCase):
    def test_maxclients_is_lowered_to_what_the_fd_limit_allows(self):
        # As Redis: maxclients needs maxclients + 32 descriptors; when the
        # limit cannot be raised, maxclients is lowered and a warning logged.
        def argv(port, d):
            return ["/bin/sh", "-c", 'ulimit -n 100 && exec "$0" "$@"', harness.server_binary(),
                    "--port", str(port), "--dir", d, "--bind", "127.0.0.1",
                    "--maxclients", "1000"]
        srv = harness._start("causalkv-server", argv, None)
        self.addCleanup(srv.stop)
        with RawConnection(srv.port) as c:
            self.assertEqual(info_field(c, "clients", "maxclients"), "68")
        self.assertIn("maxclients has been reduced to 68", srv.log_text(20000))


class IdleTimeout(ServerTestCase):
    extra_args = ("--timeout", "1", "--hz", "50")

    def test_idle_client_is_closed_and_an_active_one_is_not(self):
        idle = self.conn()
        active = self.conn()
        self.assertEqual(idle.call("PING"), b"+PONG\r\n")
        start = time.monotonic()
        while time.monotonic() - start < 2.5:
            self.assertEqual(active.call("PING"), b"+PONG\r\n")
            time.sleep(0.2)
        self.assertTrue(idle.is_closed_by_peer(1.0), "the idle client is still connected")
        self.assertEqual(active.call("PING"), b"+PONG\r\n")

    def test_timeout_zero_never_closes(self):
        c = self.conn()
        self.assertEqual(c.call("CONFIG", "SET", "timeout", "0"), b"+OK\r\n")
        idle = self.conn()
        self.assertEqual(idle.call("PING"), b"+PONG\r\n")
        time.sleep(2.0)
        self.assertEqual(idle.call("PING"), b"+PONG\r\n")


class TcpKeepalive(unittest.TestCase):
    """The server's side of each connection gets SO_KEEPALIVE with the
    configured interval; `ss -o` shows the kernel's keepalive timer."""

    def keepalive_timers(self, *args):
        if not shutil.which("ss"):
            self.skipTest("ss (iproute2) is not installed")
        srv = harness.start_server(None, *args)
        self.addCleanup(srv.stop)
        with RawConnection(srv.port) as c:
            self.assertEqual(c.call("PING"), b"+PONG\r\n")
            out = subprocess.run(["ss", "-tno", "state", "established",
                                  "( sport = :%d )" % srv.port],
                                 capture_output=True, text=True, timeout=10).stdout
        return re.findall(r"timer:\(keepalive,([^,]+),", out)

    def test_keepalive_interval(self):
        timers = self.keepalive_timers("--tcp-keepalive", "77")
        self.assertEqual(len(timers), 1, timers)
        m = re.match(r"(?:(\d+)min)?(\d+)(?:\.\d+)?sec", timers[0])
        seconds = int(m.group(1) or 0) * 60 + int(m.group(2))
        self.assertTrue(60 < seconds <= 77, timers)

    def test_keepalive_off(self):
        self.assertEqual(self.keepalive_timers("--tcp-keepalive", "0"), [])


# ---------------------------------------------------------------------------
# Output and query buffer limits

class BufferLimits(ServerTestCase):
    extra_args = ("--hz", "50")

    VALUE = b"v" * (100 * 1024)

    def greedy_client(self, gets):
        """A client that pipelines `gets` GETs of a 100 KB value and reads nothing."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        request = encode_command("GET", "big") * gets
        try:
            s.sendall(request)
        except OSError:
            pass  # closed by the server while we were still sending
        return s

    def assert_others_keep_getting_answers(self, seconds, check_done):
        """PINGs on another connection stay fast until check_done() holds."""
        other = self.conn()
        worst = 0.0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            t = time.monotonic()
            self.assertEqual(other.call("PING"), b"+PONG\r\n")
            worst = max(worst, time.monotonic() - t)
            if check_done():
                break
            time.sleep(0.02)
        self.assertLess(worst, 0.5, "another client waited %.3fs for PONG" % worst)
        return other

    def disconnections(self, kind):
        with RawConnection(self.server.port) as c:
            return int(info_field(c, "stats", "client_%s_buffer_limit_disconnections" % kind))

    def test_hard_output_limit_disconnects_the_greedy_client_only(self):
        c = self.conn()
        self.assertEqual(c.call("SET", "big", self.VALUE), b"+OK\r\n")
        self.assertEqual(c.call("CONFIG", "SET", "client-output-buffer-limit",
                                "normal 2mb 0 0"), b"+OK\r\n")
        greedy = self.greedy_client(400)  # 40 MB of replies
        self.assert_others_keep_getting_answers(
            10, lambda: self.disconnections("output") == 1)
        self.assertEqual(self.disconnections("output"), 1)
        got = read_until_closed(greedy)
        self.assertLess(len(got), 400 * len(self.VALUE))
        self.assertIn("scheduled to be closed ASAP for overcoming of output buffer limits",
                      self.server.log_text(20000))

    def test_soft_output_limit_after_its_seconds(self):
        c = self.conn()
        self.assertEqual(c.call("SET", "big", self.VALUE), b"+OK\r\n")
        self.assertEqual(c.call("CONFIG", "SET", "client-output-buffer-limit",
                                "normal 0 1mb 1"), b"+OK\r\n")
        start = time.monotonic()
        self.greedy_client(100)  # 10 MB: over the soft limit, and then silent
        self.assert_others_keep_getting_answers(
            10, lambda: self.disconnections("output") == 1)
        self.assertEqual(self.disconnections("output"), 1)
        self.assertGreaterEqual(time.monotonic() - start, 0.9)

    def test_unlimited_client_gets_every_reply_once_it_reads(self):
        # normal 0 0 0 (the default): no disconnection; back-pressure only.
        c = self.conn()
        self.assertEqual(c.call("SET", "big", self.VALUE), b"+OK\r\n")
        n = 300  # 30 MB, past the 16 MB point where the server stops reading
        s = self.greedy_client(n)
        self.assert_others_keep_getting_answers(1.0, lambda: False)
        expected = (b"$%d\r\n" % len(self.VALUE) + self.VALUE + b"\r\n") * n
        s.settimeout(20)
        got = bytearray()
        while len(got) < len(expected):
            chunk = s.recv(1 << 20)
            self.assertTrue(chunk, "closed after %d bytes" % len(got))
            got += chunk
        self.assertEqual(bytes(got), expected)
        self.assertEqual(self.disconnections("output"), 0)

    def test_partial_writes_keep_every_byte_in_order(self):
        # Distinct values, read slowly: the unsent tail of each partial write
        # must go out once, in order, whatever the offset it was cut at.
        c = self.conn()
        values = [bytes([65 + i]) * (3 * 1024 * 1024 + 7 * i) for i in range(4)]
        for i, v in enumerate(values):
            self.assertEqual(c.call("SET", "v%d" % i, v), b"+OK\r\n")
        order = [i % 4 for i in range(13)]
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        s.sendall(b"".join(encode_command("GET", "v%d" % i) for i in order)
                  + encode_command("PING"))
        expected = b"".join(b"$%d\r\n" % len(values[i]) + values[i] + b"\r\n" for i in order)
        expected += b"+PONG\r\n"
        got = bytearray()
        while len(got) < len(expected):
            time.sleep(0.001)
            chunk = s.recv(256 * 1024)
            self.assertTrue(chunk, "closed after %d bytes" % len(got))
            got += chunk
        self.assertEqual(len(got), len(expected))
        self.assertTrue(bytes(got) == expected, "reply bytes differ")

    def test_idle_client_gives_its_buffers_back(self):
        # Thousands of idle clients must not each keep a read buffer: after
        # about 2 s without traffic a client holds almost nothing.
        c = self.conn()
        self.assertEqual(c.call("SET", "k", "v"), b"+OK\r\n")
        my_id = c.call("CLIENT", "ID")[1:-2]

        def tot_mem():
            with RawConnection(self.server.port) as other:
                listing = other.call("CLIENT", "LIST", "ID", my_id).decode()
            return int(listing.split(" tot-mem=")[1].split(" ")[0])
        self.assertGreater(tot_mem(), 8 * 1024)  # an active client's read buffer
        deadline = time.monotonic() + 10
        while tot_mem() > 4 * 1024 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLess(tot_mem(), 4 * 1024)
        # And the connection works as before, big requests included.
        big = b"x" * (1024 * 1024)
        self.assertEqual(c.call("SET", "big", big), b"+OK\r\n")
        self.assertEqual(c.call("GET", "big"), b"$1048576\r\n" + big + b"\r\n")

    def test_query_buffer_limit(self):
        c = self.conn()
        self.assertEqual(c.call("CONFIG", "SET", "client-query-buffer-limit", "1mb"), b"+OK\r\n")
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        try:
            for _ in range(40):
                s.sendall(b"x" * 65536)
        except OSError:
            pass
        self.assertEqual(read_until_closed(s), b"")
        self.assertEqual(self.disconnections("query"), 1)
        self.assertEqual(c.call("PING"), b"+PONG\r\n")
        self.assertIn("Closing client that reached max query buffer length",
                      self.server.log_text(20000))
        # A large value under the limit is fine.
        self.assertEqual(c.call("SET", "k", b"y" * 900000), b"+OK\r\n")


# ---------------------------------------------------------------------------
# CLIENT KILL, PAUSE and LIST

def client_id(conn):
    return decode(conn.call("CLIENT", "ID"))


def client_addr(conn):
    return decode(conn.call("CLIENT", "INFO")).decode().split(" addr=")[1].split(" ")[0]


class ClientKill(ServerTestCase):
    def test_kill_by_id(self):
        killer, victim = self.conn(), self.conn()
        self.assertEqual(killer.call("CLIENT", "KILL", "ID", client_id(victim)), b":1\r\n")
        self.assertTrue(victim.is_closed_by_peer())
        self.assertEqual(killer.call("PING"), b"+PONG\r\n")

    def test_kill_by_addr_and_old_syntax(self):
        killer, v1, v2 = self.conn(), self.conn(), self.conn()
        self.assertEqual(killer.call("CLIENT", "KILL", "ADDR", client_addr(v1)), b":1\r\n")
        self.assertTrue(v1.is_closed_by_peer())
        addr2 = client_addr(v2)
        self.assertEqual(killer.call("CLIENT", "KILL", addr2), b"+OK\r\n")
        self.assertTrue(v2.is_closed_by_peer())
        self.assertEqual(killer.call("CLIENT", "KILL", addr2), b"-ERR No such client\r\n")

    def test_kill_by_laddr_skips_the_caller(self):
        killer, v1, v2 = self.conn(), self.conn(), self.conn()
        laddr = "127.0.0.1:%d" % self.server.port
        self.assertEqual(killer.call("CLIENT", "KILL", "LADDR", laddr), b":2\r\n")
        self.assertTrue(v1.is_closed_by_peer())
        self.assertTrue(v2.is_closed_by_peer())
        self.assertEqual(killer.call("PING"), b"+PONG\r\n")

    def test_killing_yourself_answers_then_closes(self):
        c = self.conn()
        self.assertEqual(c.call("CLIENT", "KILL", "ID", client_id(c)), b":0\r\n")  # SKIPME yes
        self.assertEqual(c.call("CLIENT", "KILL", "ID", client_id(c), "SKIPME", "no"), b":1\r\n")
        self.assertTrue(c.is_closed_by_peer())
        c2 = self.conn()
        self.assertEqual(c2.call("CLIENT", "KILL", client_addr(c2)), b"+OK\r\n")
        self.assertTrue(c2.is_closed_by_peer())

    def test_victim_in_a_pipeline_gets_nothing_more(self):
        killer, victim = self.conn(), self.conn()
        vid = client_id(victim)
        # The killer's pipeline: the kill, then a command that must still run.
        killer.send(encode_command("CLIENT", "KILL", "ID", vid) + encode_command("PING"))
        self.assertEqual(killer.read_reply(), b":1\r\n")
        self.assertEqual(killer.read_reply(), b"+PONG\r\n")
        self.assertTrue(victim.is_closed_by_peer())


class ReadBudget(ServerTestCase):
    """A client's input is read at most 16 KB per loop iteration, and the
    replies so far go out in between: a long pipelined batch gets its first
    replies while the rest is still unread, and other clients wait for one
    16 KB share at most, not for the whole batch."""

    BUDGET = 16 * 1024

    def test_long_batch_is_answered_while_it_is_read(self):
        admin, observer = self.conn(), self.conn()
        incr = encode_command("INCR", "n")
        count = 100_000
        batch = encode_command("SET", "n", "0") + incr * count
        big = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        self.addCleanup(big.close)
        # Hold the batch back with a pause, so most of it waits in the
        # socket buffers when the server starts reading it.
        self.assertEqual(admin.call("CLIENT", "PAUSE", "20000", "WRITE"), b"+OK\r\n")
        sender = threading.Thread(target=big.sendall, args=(batch,), daemon=True)
        sender.start()
        wait_until(lambda: info_field(observer, "clients", "blocked_clients") == "1",
                   what="the batch's first command to wait")
        time.sleep(0.2)
        writes_before = int(info_field(observer, "stats", "total_writes_processed"))
        self.assertEqual(admin.call("CLIENT", "UNPAUSE"), b"+OK\r\n")
        # While the batch is processed, another client is answered at once.
        start = time.monotonic()
        self.assertEqual(observer.call("PING"), b"+PONG\r\n")
        self.assertLess(time.monotonic() - start, 1.0)
        expected = b"+OK\r\n" + b"".join(b":%d\r\n" % i for i in range(1, count + 1))
        got = bytearray()
        while len(got) < len(expected):
            chunk = big.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        sender.join(10)
        self.assertEqual(bytes(got), expected)  # every reply, in order
        writes = int(info_field(observer, "stats", "total_writes_processed")) - writes_before
        # The batch took at least one write per two budgets of input (the
        # observer's own three replies aside); read whole, it would take one.
        self.assertGreaterEqual(writes - 3, len(batch) // (2 * self.BUDGET))


class ClientCompat(CompatTestCase):
    def test_kill_errors(self):
        self.same("CLIENT", "KILL", "1.2.3.4:5")
        self.same("CLIENT", "KILL", "ID")
        self.same("CLIENT", "KILL", "ID", "abc")
        self.same("CLIENT", "KILL", "ID", "0")
        self.same("CLIENT", "KILL", "ID", "-1")
        self.same("CLIENT", "KILL", "ID", "999999")
        self.same("CLIENT", "KILL", "ADDR", "1.2.3.4:5")
        self.same("CLIENT", "KILL", "SKIPME", "maybe")
        self.same("CLIENT", "KILL", "TYPE", "foo")
        self.same("CLIENT", "KILL", "TYPE", "master")
        self.same("CLIENT", "KILL", "USER", "nobody")
        self.same("CLIENT", "KILL", "foo", "bar")
        self.same("CLIENT", "KILL", "ID", "1", "SKIPME")
        self.same("CLIENT", "KILL")

    def test_pause_errors(self):
        self.same("CLIENT", "PAUSE")
        self.same("CLIENT", "PAUSE", "abc")
        self.same("CLIENT", "PAUSE", "-1")
        self.same("CLIENT", "PAUSE", "10", "foo")
        self.same("CLIENT", "PAUSE", "0", "WRITE")
        self.same("CLIENT", "UNPAUSE")
        self.same("CLIENT", "UNPAUSE", "x")

    def test_client_list_field_names_and_order(self):
        def names(raw):
            line = decode(raw).decode().strip()
            return [field.split("=", 1)[0] for field in line.split(" ")]
        o, s = self._pair(lambda c: c.call("CLIENT", "INFO"))
        # lib-name and lib-ver came with Redis 7.2; the oracle is 7.0.
        self.assertEqual(names(s), names(o) + ["lib-name", "lib-ver"])

    def test_multi_shows_the_queued_count(self):
        for c in (self.oc, self.sc):
            cid = decode(c.call("CLIENT", "ID"))
            c.call("MULTI")
            c.call("SET", "a", "1")
            c.call("SET", "b", "2")
            with RawConnection(c.port) as observer:
                info = decode(observer.call("CLIENT", "LIST", "ID", cid)).decode()
            self.assertIn(" flags=x ", info)
            self.assertIn(" multi=2 ", info)
            self.assertIn(" cmd=set ", info)
            c.call("DISCARD")


class ClientPause(ServerTestCase):
    extra_args = ("--hz", "50")

    def test_write_pause_holds_writes_and_not_reads(self):
        admin, c = self.conn(), self.conn()
        self.assertEqual(admin.call("CLIENT", "PAUSE", "800", "WRITE"), b"+OK\r\n")
        self.assertEqual(c.call("GET", "k"), b"$-1\r\n")
        start = time.monotonic()
        self.assertEqual(c.call("SET", "k", "v"), b"+OK\r\n")  # waited, not refused
        waited = time.monotonic() - start
        self.assertGreater(waited, 0.5)
        self.assertLess(waited, 3.0)
        self.assertEqual(c.call("GET", "k"), b"$1\r\nv\r\n")

    def test_unpause_releases_waiting_clients_at_once(self):
        admin, c, observer = self.conn(), self.conn(), self.conn()
        self.assertEqual(admin.call("CLIENT", "PAUSE", "20000", "WRITE"), b"+OK\r\n")
        c.send(encode_command("SET", "k", "1") + encode_command("INCR", "k"))
        wait_until(lambda: info_field(observer, "clients", "blocked_clients") == "1",
                   what="the client to wait")
        listing = decode(observer.call("CLIENT", "LIST")).decode()
        self.assertIn(" flags=b ", listing)
        start = time.monotonic()
        self.assertEqual(admin.call("CLIENT", "UNPAUSE"), b"+OK\r\n")
        self.assertEqual(c.read_reply(), b"+OK\r\n")
        self.assertEqual(c.read_reply(), b":2\r\n")
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(info_field(observer, "clients", "blocked_clients"), "0")

    def test_all_pause_holds_every_command_even_unpause(self):
        # As Redis 7: in ALL mode nothing runs until the time is up, not even
        # CLIENT UNPAUSE from another client.
        admin, c = self.conn(), self.conn()
        self.assertEqual(admin.call("CLIENT", "PAUSE", "700"), b"+OK\r\n")
        start = time.monotonic()
        self.assertEqual(c.call("CLIENT", "UNPAUSE"), b"+OK\r\n")
        self.assertGreater(time.monotonic() - start, 0.4)

    def test_paused_multi_exec_with_writes_waits(self):
        admin, c = self.conn(), self.conn()
        self.assertEqual(c.call("SET", "k", "1"), b"+OK\r\n")
        self.assertEqual(admin.call("CLIENT", "PAUSE", "600", "WRITE"), b"+OK\r\n")
        c.send(encode_command("MULTI") + encode_command("GET", "k") + encode_command("EXEC"))
        start = time.monotonic()
        self.assertEqual(c.read_reply(), b"+OK\r\n")
        self.assertEqual(c.read_reply(), b"+QUEUED\r\n")
        self.assertEqual(c.read_reply(), b"*1\r\n$1\r\n1\r\n")
        self.assertLess(time.monotonic() - start, 0.4)  # reads only: not held back


# ---------------------------------------------------------------------------
# Unix socket, port 0

class UnixSocket(unittest.TestCase):
    def start(self, *args):
        """The server with a unix socket in a fresh directory; TCP port 0 unless given."""
        tmp = tempfile.mkdtemp(prefix="causalkv-unix-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
        self.path = os.path.join(tmp, "causalkv.sock")
        data = os.path.join(tmp, "data")
        log = open(os.path.join(tmp, "server.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([harness.server_binary(), "--port", "0", "--dir", data,
                                 "--unixsocket", self.path, *args],
                                stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=harness._child_preexec)

        def stop():
            if proc.poll() is None:
                proc.terminate()
            self.assertEqual(proc.wait(timeout=15), 0)
        self.addCleanup(stop)
        wait_until(lambda: os.path.exists(self.path) or proc.poll() is not None,
                   what="the socket file")
        self.assertIsNone(proc.poll(), "the server exited")
        return proc

    def unix_call(self, *commands):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.settimeout(10)
        s.connect(self.path)
        replies = []
        buf = b""
        for command in commands:
            s.sendall(encode_command(*command))
            while True:
                try:
                    value, end = harness.parse_reply(buf)
                    buf = buf[end:]
                    replies.append(value)
                    break
                except harness.Incomplete:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "closed")
                    buf += chunk
        return replies

    def test_unix_socket_only_with_permissions(self):
        self.start("--unixsocketperm", "700")
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o700)
        ping, info, port, server = self.unix_call(["PING"], ["CLIENT", "INFO"],
                                                  ["CONFIG", "GET", "port"], ["INFO", "server"])
        self.assertEqual(ping, b"PONG")
        info = info.decode()
        self.assertIn(" addr=%s:0 " % self.path, info)
        self.assertIn(" laddr=%s:0 " % self.path, info)
        self.assertIn(" flags=U ", info)
        self.assertEqual(port, [b"port", b"0"])
        self.assertIn(b"tcp_port:0\r\n", server)

    def test_socket_file_removed_at_exit_and_stale_one_replaced(self):
        proc = self.start()
        self.assertEqual(self.unix_call(["PING"]), [b"PONG"])
        proc.terminate()
        self.assertEqual(proc.wait(timeout=15), 0)
        self.assertFalse(os.path.exists(self.path))

    def test_protected_mode_never_refuses_unix_clients(self):
        self.start("--protected-mode", "yes")
        self.assertEqual(self.unix_call(["PING"]), [b"PONG"])

    def test_port_zero_without_unix_socket_refuses_to_start(self):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([harness.server_binary(), "--port", "0", "--dir", d],
                               capture_output=True, text=True, timeout=15)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not listen anywhere", r.stdout + r.stderr)


if __name__ == "__main__":
    harness.main()
