#!/usr/bin/python3
"""redis-cli as a client library beyond test_cli.py: the interactive REPL
under a pseudo-terminal (prompt, formatted replies, SELECT and MULTI in the
prompt, WATCH), RESP3 (-3), AUTH (-a, --user/--pass, -u URI, REDISCLI_AUTH),
--scan with --pattern, --stat for a few seconds, and --pipe with
transactions in it.

Where the command is plain Redis, the output is compared with what the same
redis-cli prints against a real redis-server (the oracle), so the expected
text is never guessed; causalkv-only commands (VPUT/VGET) are checked
against literal expected output.
"""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
import unittest

import harness
from harness import REDIS_CLI, RawConnection, encode_command, run_cli

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROMPT_RE = re.compile(r"127\.0\.0\.1:\d+(\[\d+\])?(\(TX\))?> $")

# redis-cli in a terminal (or with --no-raw), one reply per VPUT of the seed
# scenario on a fresh server (DDIA figure 5-13).
CART_STEPS = [
    ('VPUT cart 0 milk',
     ['1) (integer) 1',
      '2) 1) "milk"']),
    ('VPUT cart 0 eggs',
     ['1) (integer) 2',
      '2) 1) "milk"',
      '   2) "eggs"']),
    ('VPUT cart 1 "milk flour"',
     ['1) (integer) 3',
      '2) 1) "eggs"',
      '   2) "milk flour"']),
    ('VPUT cart 2 "eggs milk ham"',
     ['1) (integer) 4',
      '2) 1) "milk flour"',
      '   2) "eggs milk ham"']),
    ('VPUT cart 3 "milk flour eggs bacon"',
     ['1) (integer) 5',
      '2) 1) "eggs milk ham"',
      '   2) "milk flour eggs bacon"']),
]
CART_WITHVERSIONS = [
    '1) (integer) 5',
    '2) 1) 1) (integer) 4',
    '      2) "eggs milk ham"',
    '   2) 1) (integer) 5',
    '      2) "milk flour eggs bacon"',
]


def cli_env(**extra):
    """An environment in which no user file changes redis-cli's behaviour and
    the interactive history is not written to $HOME."""
    env = dict(os.environ, TERM="xterm", REDISCLI_HISTFILE="/dev/null",
               REDISCLI_RCFILE="/dev/null")
    env.pop("REDISCLI_AUTH", None)
    env.update(extra)
    return env


def _pty_preexec():
    os.setsid()
    harness._child_preexec()  # SIGKILL when the test process dies


class PtyProcess:
    """A process whose stdin/stdout/stderr are a pseudo-terminal, as when a
    person runs it in a terminal window (250 columns, so nothing wraps)."""

    def __init__(self, argv, env=None):
        self.argv = argv
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=env or cli_env(), preexec_fn=_pty_preexec,
                                     close_fds=True)
        os.close(slave)
        self.transcript = b""
        self.eof = False

    def _read_some(self, timeout):
        if self.eof:
            return b""
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if not data:
            self.eof = True
        self.transcript += data
        return data

    def read_until(self, predicate, timeout, what):
        """Reads until predicate(text read so far) is true; fails loudly with
        the transcript on timeout or end of output."""
        buf = b""
        deadline = time.monotonic() + timeout
        while not predicate(buf.decode("utf-8", "replace")):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.eof:
                raise AssertionError(
                    "%s: no %s within %.0fs (eof=%s); output so far:\n%r\nfull transcript:\n%r"
                    % (" ".join(self.argv), what, timeout, self.eof, buf, self.transcript[-3000:]))
            buf += self._read_some(min(remaining, 0.2))
        return buf.decode("utf-8", "replace")

    def read_for(self, seconds):
        buf = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.eof:
            buf += self._read_some(deadline - time.monotonic())
        return buf.decode("utf-8", "replace")

    def drain(self):
        out = b""
        while not self.eof:
            chunk = self._read_some(0.5)
            if not chunk:
                break
            out += chunk
        return out.decode("utf-8", "replace")

    def wait(self, timeout=10):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError("%s did not exit within %ss; transcript:\n%r"
                                 % (" ".join(self.argv), timeout, self.transcript[-3000:]))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        try:
            os.close(self.master)
        except OSError:
            pass


def screen_lines(text):
    """The lines a terminal would show: ANSI sequences removed, and a
    carriage return starts the line over (linenoise redraws the whole line)."""
    text = ANSI_RE.sub("", text)
    return [seg.rstrip("\r").split("\r")[-1] for seg in text.split("\n")]


class CliSession(PtyProcess):
    """redis-cli's interactive mode (linenoise), driven keystroke-free: each
    command is typed as one write followed by Enter."""

    def __init__(self, port, *args, env=None):
        super().__init__([REDIS_CLI, "-p", str(port)] + [str(a) for a in args], env=env)
        text = self.read_until(lambda t: PROMPT_RE.search(screen_lines(t)[-1]), 10, "first prompt")
        self.prompt = screen_lines(text)[-1]
        self.last_raw = text

    def cmd(self, line):
        """Types `line` + Enter; returns the reply lines shown before the next
        prompt, and remembers the new prompt in self.prompt."""
        before = self.prompt
        os.write(self.master, line.encode() + b"\r")

        def done(t):
            lines = screen_lines(t)
            return len(lines) > 1 and PROMPT_RE.search(lines[-1])
        text = self.read_until(done, 10, "reply and prompt after %r" % line)
        self.last_raw = text
        lines = screen_lines(text)
        if lines[0] != before + line:
            raise AssertionError("the terminal line after typing %r is %r, expected %r"
                                 % (line, lines[0], before + line))
        self.prompt = lines[-1]
        return lines[1:-1]

    def quit(self):
        os.write(self.master, b"QUIT\r")
        self.drain()
        code = self.wait()
        self.close()
        return code


class _PasswordServer(harness.ServerProcess):
    """A server started with --requirepass: ready once AUTH + PING answer."""

    password = None

    def wait_ready(self, timeout=harness.READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with RawConnection(self.port, timeout=2.0) as c:
                    replies = (c.call("AUTH", self.password), c.call("PING"))
                if replies == (b"+OK\r\n", b"+PONG\r\n"):
                    return True
                last = replies
            except (OSError, ConnectionError, TimeoutError) as e:
                last = e
            time.sleep(0.05)
        raise AssertionError("%s did not answer AUTH + PING within %.0fs (last: %s)\nlog:\n%s"
                             % (self, timeout, last, self.log_text()))


def start_with_password(password, oracle=False):
    """harness.start_server / start_redis_oracle with --requirepass (the
    harness's readiness check expects PING to work without AUTH)."""
    data_dir, owns, log_path = harness._make_dirs(None)
    name = "redis-server(oracle)" if oracle else "causalkv-server"
    last = None
    for _ in range(3):
        port = harness.find_free_port()
        if oracle:
            argv = [harness.REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", data_dir]
        else:
            argv = [harness.server_binary(), "--port", str(port), "--dir", data_dir,
                    "--bind", "127.0.0.1"]
        srv = _PasswordServer(argv + ["--requirepass", password], port, data_dir, owns,
                              log_path, name)
        srv.password = password
        try:
            if srv.wait_ready():
                return srv
        except BaseException:
            srv.kill9(remove_dir=owns)
            raise
        last = srv
        srv.kill9()  # exited early: most likely the port was taken; try another
    log = last.log_text()
    last.remove_dir()
    raise AssertionError("%s exited before becoming ready, 3 attempts\nargv: %s\nlog:\n%s"
                         % (name, last.argv, log))


def prompt_for(port, db=0, tx=False):
    return "127.0.0.1:%d%s%s> " % (port, "[%d]" % db if db else "", "(TX)" if tx else "")


class InteractiveMode(unittest.TestCase):
    """The REPL under a pseudo-terminal, as a person uses it."""

    def setUp(self):
        self.server = harness.start_server()
        self.port = self.server.port
        self.sessions = []

    def tearDown(self):
        for s in self.sessions:
            s.close()
        self.server.stop()

    def session(self, *args, **kw):
        s = CliSession(self.port, *args, **kw)
        self.sessions.append(s)
        return s

    def test_cart_scenario_typed_at_the_prompt(self):
        s = self.session()
        self.assertEqual(s.prompt, prompt_for(self.port))
        self.assertEqual(s.cmd("VGET cart"), ["1) (integer) 0", "2) (empty array)"])
        for line, expected in CART_STEPS:
            self.assertEqual(s.cmd(line), expected, "reply to %s" % line)
        # redis-cli got VPUT's argument hint from the server's COMMAND DOCS.
        self.assertIn("key version value", ANSI_RE.sub("", s.transcript.decode("utf-8", "replace")),
                      "no VPUT hint shown: COMMAND DOCS not usable by redis-cli")
        self.assertEqual(s.cmd("VGET cart WITHVERSIONS"), CART_WITHVERSIONS)
        self.assertEqual(s.cmd("GET cart"), ['"milk flour eggs bacon"'])
        self.assertEqual(s.cmd('VPUT cart 5 "milk flour eggs bacon ham"'),
                         ["1) (integer) 6", '2) 1) "milk flour eggs bacon ham"'])
        self.assertEqual(s.quit(), 0)

    def test_cache_workload_with_select_in_the_prompt(self):
        s = self.session()
        self.assertEqual(s.cmd("SELECT 2"), ["OK"])
        self.assertEqual(s.prompt, prompt_for(self.port, db=2))
        self.assertEqual(s.cmd("SET user:1 alice EX 100"), ["OK"])
        self.assertEqual(s.cmd("SET user:2 bob PX 100000"), ["OK"])
        self.assertEqual(s.cmd("TTL user:1"), ["(integer) 100"])
        self.assertEqual(s.cmd("GET user:1"), ['"alice"'])
        self.assertEqual(s.cmd("GET user:9"), ["(nil)"])
        self.assertEqual(s.cmd("MGET user:1 user:9 user:2"), ['1) "alice"', "2) (nil)", '3) "bob"'])
        self.assertEqual(s.cmd("INCR hits"), ["(integer) 1"])
        self.assertEqual(s.cmd("INCR user:1"), ["(error) ERR value is not an integer or out of range"])
        self.assertEqual(s.cmd("DEL user:1 user:2 user:9"), ["(integer) 2"])
        self.assertEqual(s.cmd("SCAN 0 MATCH hit* COUNT 100"), ['1) "0"', '2) 1) "hits"'])
        self.assertEqual(s.cmd("DBSIZE"), ["(integer) 1"])
        self.assertEqual(s.cmd("SELECT 0"), ["OK"])
        self.assertEqual(s.prompt, prompt_for(self.port))
        self.assertEqual(s.cmd("DBSIZE"), ["(integer) 0"])
        self.assertEqual(s.cmd("SELECT 16"), ["(error) ERR DB index is out of range"])
        self.assertEqual(s.prompt, prompt_for(self.port))
        self.assertEqual(s.quit(), 0)

    def test_multi_exec_and_discard_in_the_prompt(self):
        s = self.session("-n", "3")
        self.assertEqual(s.prompt, prompt_for(self.port, db=3))
        self.assertEqual(s.cmd("MULTI"), ["OK"])
        self.assertEqual(s.prompt, prompt_for(self.port, db=3, tx=True))
        self.assertEqual(s.cmd("SET counter 10"), ["QUEUED"])
        self.assertEqual(s.cmd("INCRBY counter 5"), ["QUEUED"])
        self.assertEqual(s.cmd("VPUT tx:cart 0 milk"), ["QUEUED"])
        # SET and INCRBY took versions 1 and 2: the server has one counter.
        self.assertEqual(s.cmd("EXEC"), ["1) OK", "2) (integer) 15",
                                         "3) 1) (integer) 3", '   2) 1) "milk"'])
        self.assertEqual(s.prompt, prompt_for(self.port, db=3))
        self.assertEqual(s.cmd("MULTI"), ["OK"])
        self.assertEqual(s.cmd("SET counter 0"), ["QUEUED"])
        self.assertEqual(s.cmd("DISCARD"), ["OK"])
        self.assertEqual(s.prompt, prompt_for(self.port, db=3))
        self.assertEqual(s.cmd("GET counter"), ['"15"'])
        # A queue-time error aborts the transaction.
        self.assertEqual(s.cmd("MULTI"), ["OK"])
        self.assertEqual(s.cmd("SET counter 1"), ["QUEUED"])
        self.assertEqual(s.cmd("GET"), ["(error) ERR wrong number of arguments for 'get' command"])
        self.assertEqual(s.cmd("EXEC"),
                         ["(error) EXECABORT Transaction discarded because of previous errors."])
        self.assertEqual(s.prompt, prompt_for(self.port, db=3))
        self.assertEqual(s.cmd("GET counter"), ['"15"'])
        self.assertEqual(s.quit(), 0)

    def test_watch_aborted_by_another_client_then_retried(self):
        s = self.session()
        self.assertEqual(s.cmd("SET stock 10"), ["OK"])
        self.assertEqual(s.cmd("WATCH stock"), ["OK"])
        self.assertEqual(s.cmd("GET stock"), ['"10"'])
        run_cli(self.port, "INCRBY", "stock", "100")  # another client writes
        self.assertEqual(s.cmd("MULTI"), ["OK"])
        self.assertEqual(s.cmd("SET stock 9"), ["QUEUED"])
        self.assertEqual(s.cmd("EXEC"), ["(nil)"], "EXEC after a concurrent write to a watched key")
        # Retry on the new value.
        self.assertEqual(s.cmd("WATCH stock"), ["OK"])
        self.assertEqual(s.cmd("GET stock"), ['"110"'])
        self.assertEqual(s.cmd("MULTI"), ["OK"])
        self.assertEqual(s.cmd("SET stock 109"), ["QUEUED"])
        self.assertEqual(s.cmd("EXEC"), ["1) OK"])
        self.assertEqual(run_cli(self.port, "GET", "stock").stdout, b"109\n")
        self.assertEqual(s.quit(), 0)

    def test_resp3_prompt_shows_maps(self):
        s = self.session("-3")
        hello = s.cmd("HELLO")
        self.assertEqual(hello[0], '1# "server" => "redis"')
        self.assertRegex(hello[1], r'^2# "version" => "\d+\.\d+\.\d+"$')
        self.assertEqual(hello[2], '3# "proto" => (integer) 3')
        self.assertRegex(hello[3], r'^4# "id" => \(integer\) \d+$')
        self.assertEqual(hello[4:], ['5# "mode" => "standalone"', '6# "role" => "master"',
                                     '7# "modules" => (empty array)'])
        self.assertEqual(s.cmd("CONFIG GET databases"), ['1# "databases" => "16"'])
        self.assertEqual(s.cmd("GET nothing"), ["(nil)"])
        for line, expected in CART_STEPS[:2]:
            self.assertEqual(s.cmd(line), expected, "reply to %s under RESP3" % line)
        self.assertRegex(run_cli(self.port, "CLIENT", "LIST").stdout.decode(), r" resp=3( |\n)")
        self.assertEqual(s.quit(), 0)

    def test_auth_at_the_prompt(self):
        self.server.stop()
        self.server = start_with_password("s3cret")
        self.port = self.server.port
        s = self.session()
        self.assertEqual(s.cmd("GET k"), ["(error) NOAUTH Authentication required."])
        self.assertEqual(s.cmd("AUTH wrong"),
                         ["(error) WRONGPASS invalid username-password pair or user is disabled."])
        self.assertEqual(s.cmd("AUTH s3cret"), ["OK"])
        self.assertEqual(s.cmd("SET k v"), ["OK"])
        self.assertEqual(s.quit(), 0)
        # -a authenticates before the first prompt; -n selects in the same go.
        s = self.session("-a", "s3cret", "--no-auth-warning", "-n", "4")
        self.assertEqual(s.prompt, prompt_for(self.port, db=4))
        self.assertEqual(s.cmd("SET k4 v4"), ["OK"])
        # redis-cli prints CLIENT INFO raw, as it does against Redis.
        info = s.cmd("CLIENT INFO")
        self.assertEqual(len(info), 1, info)
        self.assertRegex(info[0], r"^id=\d+ .* db=4 .* user=default ")
        self.assertEqual(s.quit(), 0)


class Resp3AndAuthOptions(unittest.TestCase):
    """-3 and the password options, non-interactive, compared with a real
    redis-server where the commands are plain Redis."""

    @classmethod
    def setUpClass(cls):
        cls.server = start_with_password("pw 1")
        cls.oracle = start_with_password("pw 1", oracle=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.oracle.stop()

    def both(self, *args, stdin=None, env=None):
        """(causalkv output, oracle output) of the same redis-cli invocation."""
        out = []
        for port in (self.server.port, self.oracle.port):
            cp = subprocess.run([REDIS_CLI, "-p", str(port)] + [str(a) for a in args],
                                input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=20, env=env or cli_env(), preexec_fn=harness._child_preexec)
            out.append((cp.returncode, cp.stdout.decode("utf-8", "replace"),
                        cp.stderr.decode("utf-8", "replace")))
        return out

    def assert_same(self, *args, stdin=None, env=None):
        ours, redis = self.both(*args, stdin=stdin, env=env)
        self.assertEqual(ours, redis, "redis-cli %s: causalkv vs redis-server" % " ".join(args))
        return ours

    def test_resp3_replies_match_redis(self):
        auth = ["-a", "pw 1", "--no-auth-warning", "-n", "5"]
        self.assert_same(*auth, "FLUSHDB")
        for fmt in (["--no-raw"], ["--raw"], []):
            # An absolute expiry (EXPIRETIME, not TTL): each command runs on one
            # server and then the other, and a relative TTL read on either
            # side of a second boundary would differ by one.
            for cmd in (["SET", "k", "v", "EXAT", "4102444800"], ["GET", "k"], ["GET", "missing"],
                        ["MGET", "k", "missing"], ["EXPIRETIME", "k"], ["EXISTS", "k", "missing"],
                        ["INCRBYFLOAT", "f", "1.5"], ["CONFIG", "GET", "databases"],
                        ["CLIENT", "GETNAME"], ["SCAN", "0", "MATCH", "nomatch*"], ["GET"],
                        ["INCR", "k"], ["DEL", "k", "f"], ["PING"], ["ECHO", "a b"]):
                got = self.assert_same(*auth, "-3", *fmt, *cmd)
                if cmd == ["CONFIG", "GET", "databases"] and fmt == ["--no-raw"]:
                    self.assertEqual(got[1], '1# "databases" => "16"\n')

    def test_resp3_transaction_on_stdin_matches_redis(self):
        script = b"FLUSHDB\nMULTI\nSET a 1\nINCRBY a 41\nGET a\nGET\nEXEC\nMULTI\nSET a 2\nEXEC\nGET a\n"
        got = self.assert_same("-a", "pw 1", "--no-auth-warning", "-n", "6", "-3", "--no-raw",
                               stdin=script)
        self.assertIn("EXECABORT", got[1] + got[2])

    def test_resp3_cart_scenario(self):
        # A fresh server: the scenario's versions start at 1.
        server = harness.start_server()
        try:
            for line, expected in CART_STEPS:
                args = re.findall(r'"[^"]*"|\S+', line)
                args = [a.strip('"') for a in args]
                out = run_cli(server.port, "-3", "--no-raw", *args).stdout.decode()
                self.assertEqual(out, "\n".join(expected) + "\n", "redis-cli -3 %s" % line)
            out = run_cli(server.port, "-3", "--no-raw", "VGET", "cart", "WITHVERSIONS").stdout
            self.assertEqual(out.decode(), "\n".join(CART_WITHVERSIONS) + "\n")
            out = run_cli(server.port, "-3", "VGET", "cart").stdout  # raw format, not a tty
            self.assertEqual(out, b"5\neggs milk ham\nmilk flour eggs bacon\n")
        finally:
            server.stop()

    def test_password_options(self):
        p = self.server.port
        env = cli_env()
        cases = [
            (["-a", "pw 1", "--no-auth-warning"], env),
            (["--user", "default", "--pass", "pw 1", "--no-auth-warning"], env),
            (["-u", "redis://default:pw%%201@127.0.0.1:%d/7" % p, "--no-auth-warning"], env),
            ([], cli_env(REDISCLI_AUTH="pw 1")),
        ]
        for i, (opts, e) in enumerate(cases):
            with self.subTest(opts=opts):
                db = [] if opts and opts[0] == "-u" else ["-n", "7"]
                cp = subprocess.run([REDIS_CLI, "-p", str(p)] + opts + db + ["SET", "auth:%d" % i, "ok"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20,
                                    env=e, preexec_fn=harness._child_preexec)
                self.assertEqual((cp.returncode, cp.stdout, cp.stderr), (0, b"OK\n", b""))
        out = run_cli(p, "-a", "pw 1", "--no-auth-warning", "-n", "7", "--no-raw", "MGET",
                      "auth:0", "auth:1", "auth:2", "auth:3").stdout.decode()
        self.assertEqual(out, '1) "ok"\n2) "ok"\n3) "ok"\n4) "ok"\n')
        # No password and a wrong password: same messages as redis-server.
        got = self.assert_same("GET", "k")
        self.assertEqual(got[1], "NOAUTH Authentication required.\n\n")
        got = self.assert_same("-a", "wrong", "--no-auth-warning", "GET", "k")
        self.assertIn("AUTH failed: WRONGPASS invalid username-password pair or user is disabled.",
                      got[2])


class ScanOption(unittest.TestCase):
    """redis-cli --scan [--pattern]: SCAN iteration to the end."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_server()
        with RawConnection(cls.server.port) as c:
            batch = []
            for i in range(500):
                batch.append(encode_command("SET", "user:%d" % i, "u"))
            for i in range(120):
                batch.append(encode_command("SET", "session:%d" % i, "s", "EX", "1000"))
            batch.append(encode_command("VPUT", "cart:1", "0", "milk"))
            c.send(b"".join(batch))
            for _ in batch:
                c.read_reply()
            c.call("SELECT", "3")
            c.call("SET", "db3:only", "x")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def scan(self, *args):
        out = run_cli(self.server.port, "--scan", *args).stdout.decode()
        lines = out.splitlines()
        self.assertEqual(len(lines), len(set(lines)), "duplicate keys from --scan %s" % (args,))
        return set(lines)

    def test_scan_everything(self):
        expected = ({"user:%d" % i for i in range(500)} | {"session:%d" % i for i in range(120)}
                    | {"cart:1"})
        self.assertEqual(self.scan(), expected)

    def test_scan_with_pattern(self):
        self.assertEqual(self.scan("--pattern", "session:*"), {"session:%d" % i for i in range(120)})
        self.assertEqual(self.scan("--pattern", "user:1?"), {"user:%d" % i for i in range(10, 20)})
        self.assertEqual(self.scan("--pattern", "cart:*"), {"cart:1"})
        self.assertEqual(self.scan("--pattern", "nomatch*"), set())

    def test_scan_other_database_and_resp3(self):
        self.assertEqual(self.scan("-n", "3"), {"db3:only"})
        self.assertEqual(self.scan("-3", "--pattern", "user:49?"),
                         {"user:%d" % i for i in range(490, 500)})


class StatOption(unittest.TestCase):
    """redis-cli --stat: a header, then one row a period, until interrupted."""

    HEADER = ("------- data ------ --------------------- load -------------------- - child -",
              "keys       mem      clients blocked requests            connections")
    ROW_RE = re.compile(r"^(\d+)\s+(\d+(?:\.\d+)?[BKMGT]?)\s+(\d+)\s+(\d+)\s+(\d+) \(\+(\d+)\)\s+(\d+)\s*$")

    def setUp(self):
        self.server = harness.start_server()

    def tearDown(self):
        self.server.stop()

    def test_stat_rows_for_two_seconds(self):
        with RawConnection(self.server.port) as c:
            for i in range(7):
                c.call("SET", "k%d" % i, "v")
        p = PtyProcess([REDIS_CLI, "-p", str(self.server.port), "--stat", "-i", "0.4"])
        try:
            first = p.read_until(lambda t: len([l for l in screen_lines(t) if self.ROW_RE.match(l)]) >= 1,
                                 10, "first --stat row")
            with RawConnection(self.server.port) as c:  # the keys column must follow
                for i in range(7, 12):
                    c.call("SET", "k%d" % i, "v")
            text = first + p.read_for(2.0)
            self.assertIsNone(p.proc.poll(), "redis-cli --stat exited by itself:\n" + text)
            p.proc.send_signal(signal.SIGINT)
            text += p.drain()
            code = p.wait(10)
            self.assertIn(code, (-signal.SIGINT, 0), "--stat should end on SIGINT")
        finally:
            p.close()
        lines = [l.rstrip() for l in screen_lines(text) if l.strip()]
        self.assertEqual(lines[0], self.HEADER[0], text)
        self.assertEqual(lines[1], self.HEADER[1], text)
        rows = [self.ROW_RE.match(l) for l in lines[2:]]
        self.assertTrue(all(rows), "a --stat row did not parse:\n%s" % "\n".join(lines[2:]))
        self.assertGreaterEqual(len(rows), 4, "expected a row every 0.4 s for ~2 s:\n" + text)
        keys = [int(m.group(1)) for m in rows]
        self.assertEqual(keys[0], 7, text)
        self.assertEqual(keys[-1], 12, text)
        self.assertTrue(all(int(m.group(3)) >= 1 for m in rows), "clients column:\n" + text)
        requests = [int(m.group(5)) for m in rows]
        self.assertEqual(requests, sorted(requests), "requests column must not go down:\n" + text)
        for prev, m in zip(requests, rows[1:]):
            self.assertEqual(int(m.group(6)), int(m.group(5)) - prev, "(+n) is the difference:\n" + text)


class PipeOption(unittest.TestCase):
    """redis-cli --pipe with transactions inside the stream."""

    def setUp(self):
        self.server = harness.start_server()
        self.oracle = harness.start_redis_oracle()

    def tearDown(self):
        self.server.stop()
        self.oracle.stop()

    def pipe(self, port, commands):
        payload = b"".join(encode_command(*c) for c in commands)
        cp = run_cli(port, "--pipe", stdin=payload, check=False)
        # The summary goes to stdout, error replies to stderr.
        return cp.returncode, (cp.stdout + cp.stderr).decode("utf-8", "replace")

    def test_transaction_in_pipe(self):
        commands = [
            ["SET", "plain", "1"],
            ["MULTI"],
            ["SET", "tx:a", "10"],
            ["INCRBY", "tx:a", "5"],
            ["SET", "tx:s", "text"],
            ["INCR", "tx:s"],  # runtime error inside EXEC: not a top-level error reply
            ["EXEC"],
            ["MULTI"],
            ["DEL", "plain"],
            ["DISCARD"],
        ]
        for port in (self.server.port, self.oracle.port):
            code, out = self.pipe(port, commands)
            self.assertEqual(code, 0, out)
            self.assertIn("errors: 0, replies: 10\n", out)
            self.assertEqual(run_cli(port, "MGET", "plain", "tx:a", "tx:s").stdout, b"1\n15\ntext\n")
        code, out = self.pipe(self.server.port, [["MULTI"], ["VPUT", "cart", "0", "milk"],
                                                 ["VPUT", "cart", "0", "eggs"], ["EXEC"]])
        self.assertEqual((code, out.splitlines()[-1]), (0, "errors: 0, replies: 4"))
        # Versions 1-4 went to the four stored values above (the failed INCR took none).
        self.assertEqual(run_cli(self.server.port, "VGET", "cart").stdout, b"6\nmilk\neggs\n")

    def test_execabort_in_pipe_counts_two_errors(self):
        commands = [["MULTI"], ["SET", "never", "1"], ["GET"], ["EXEC"], ["SET", "after", "1"]]
        results = []
        for port in (self.server.port, self.oracle.port):
            code, out = self.pipe(port, commands)
            self.assertEqual(code, 1, "--pipe exits 1 when a reply is an error:\n" + out)
            self.assertIn("errors: 2, replies: 5\n", out)
            self.assertIn("EXECABORT Transaction discarded because of previous errors.", out)
            self.assertEqual(run_cli(port, "EXISTS", "never", "after").stdout, b"1\n")
            results.append(out.replace(str(port), "PORT"))
        self.assertEqual(results[0], results[1], "--pipe output, causalkv vs redis-server")

    def test_watch_in_pipe_aborted_by_own_write(self):
        # A write after WATCH aborts the EXEC, even from the same connection.
        commands = [["SET", "w", "0"], ["WATCH", "w"], ["SET", "w", "1"], ["MULTI"],
                    ["SET", "w", "2"], ["EXEC"], ["WATCH", "w"], ["MULTI"], ["INCR", "w"], ["EXEC"]]
        for port in (self.server.port, self.oracle.port):
            code, out = self.pipe(port, commands)
            self.assertEqual((code, out.splitlines()[-1]), (0, "errors: 0, replies: 10"), out)
            self.assertEqual(run_cli(port, "GET", "w").stdout, b"2\n",
                             "first EXEC aborted, second ran (port %d)" % port)


if __name__ == "__main__":
    harness.main()
