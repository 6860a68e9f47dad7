"""Shared helpers for the black-box tests in redis-tests/.

Everything here talks to real processes over real sockets: the causalkv
server binary under test, and (for the compatibility tests) a real
redis-server used as an oracle.

Rules every helper follows, because these tests run in parallel under ctest
and must never poison the machine:
  * ports are picked by the kernel (bind to port 0), never hard-coded;
  * every wait has a deadline, every socket has a timeout;
  * every process started here is registered and killed at exit, and is
    also killed by the kernel if the Python process dies (PR_SET_PDEATHSIG),
    so a ctest timeout (which kills only the direct child) leaves nothing behind.

The binary under test comes from the CAUSALKV_SERVER environment variable or
from a `--server PATH` command-line argument (see main()).
"""

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# Bounded timeouts used throughout.
READY_TIMEOUT = 15.0  # server start until PING answers PONG
STOP_TIMEOUT = 15.0  # SIGTERM until exit
IO_TIMEOUT = 10.0  # a single reply

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


# --------------------------------------------------------------------------
# Locating the binary under test
# --------------------------------------------------------------------------

def server_binary():
    """Path of the causalkv server binary; fails loudly when it is missing."""
    path = os.environ.get("CAUSALKV_SERVER", "")
    if not path:
        raise RuntimeError(
            "CAUSALKV_SERVER is not set: run through ctest, or pass "
            "--server /path/to/causalkv-server, or export CAUSALKV_SERVER")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(
            "CAUSALKV_SERVER=%r is not an executable file (was the server built?)" % path)
    return path


def main():
    """Entry point for the test files: strips `--server PATH` from argv into
    CAUSALKV_SERVER, checks the binary exists, then runs unittest."""
    argv = list(sys.argv)
    if "--server" in argv:
        i = argv.index("--server")
        if i + 1 >= len(argv):
            sys.exit("--server needs a path")
        os.environ["CAUSALKV_SERVER"] = os.path.abspath(argv[i + 1])
        del argv[i:i + 2]
    try:
        server_binary()
    except RuntimeError as e:
        print("FATAL: %s" % e, file=sys.stderr)
        sys.exit(2)
    unittest.main(argv=argv, verbosity=2)


# --------------------------------------------------------------------------
# Process management
# --------------------------------------------------------------------------

_live_servers = []  # every ServerProcess not yet stopped; killed at exit


def _kill_all_live():
    for s in list(_live_servers):
        try:
            s.kill9()
        except Exception:  # cleanup must never raise
            pass


atexit.register(_kill_all_live)


def _on_signal(signum, _frame):
    # ctest or a user interrupting: kill our children, then die with the signal.
    _kill_all_live()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _child_preexec():
    # Linux: the child gets SIGKILL when the Python process exits for any
    # reason, including SIGKILL from a ctest timeout. Linux counts the thread
    # that started the child as its parent: a server started from a thread
    # dies when that thread ends, so start servers from one that outlives them.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def find_free_port():
    """A port the kernel says is free right now. There is a small window in
    which another process could take it; start_server retries on that."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A running server (causalkv or the redis-server oracle)."""

    def __init__(self, argv, port, data_dir, owns_dir, log_path, name):
        self.argv = argv
        self.port = port
        self.dir = data_dir
        self._owns_dir = owns_dir
        self.log_path = log_path
        self.name = name
        self._log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, preexec_fn=_child_preexec)
        _live_servers.append(self)

    def __repr__(self):
        return "<%s pid=%s port=%s dir=%s>" % (self.name, self.proc.pid, self.port, self.dir)

    def log_text(self, limit=4000):
        """The tail of the server's log, for failure messages."""
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-limit:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Poll connect + PING until +PONG, the process dies, or the deadline."""
        deadline = time.monotonic() + timeout
        last_err = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                    s.sendall(b"PING\r\n")
                    s.settimeout(2.0)
                    data = b""
                    while not data.endswith(b"\r\n"):
                        chunk = s.recv(64)
                        if not chunk:
                            break
                        data += chunk
                    # A server with requirepass answers NOAUTH: it is up.
                    if data == b"+PONG\r\n" or data.startswith(b"-NOAUTH"):
                        return True
                    last_err = "PING answered %r" % data
            except OSError as e:
                last_err = e
            time.sleep(0.05)
        raise AssertionError("%s did not answer PING with +PONG within %.0fs (last: %s)\nlog:\n%s"
                             % (self, timeout, last_err, self.log_text()))

    def _release(self):
        if self in _live_servers:
            _live_servers.remove(self)
        try:
            self._log_file.close()
        except OSError:
            pass

    def remove_dir(self):
        if self._owns_dir and self.dir:
            shutil.rmtree(os.path.dirname(self.dir), ignore_errors=True)

    def stop(self, expect_exit=0, remove_dir=True, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, and assert the exit code (None: do not check).
        Removes the data dir only if this object created it."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
                raise AssertionError("%s did not exit within %.0fs of SIGTERM\nlog:\n%s"
                                     % (self, timeout, self.log_text()))
            if expect_exit is not None and code != expect_exit:
                raise AssertionError("%s exited with %s after SIGTERM, expected %s\nlog:\n%s"
                                     % (self, code, expect_exit, self.log_text()))
            return code
        finally:
            self._release()
            if remove_dir:
                self.remove_dir()

    def kill9(self, remove_dir=False):
        """SIGKILL (a crash). Keeps the data dir unless told otherwise, since
        the point of kill -9 in tests is usually to restart on the same dir."""
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        finally:
            self._release()
            if remove_dir:
                self.remove_dir()


def _make_dirs(data_dir):
    """(data_dir, owns_dir, log_path). The log lives beside the data dir so a
    restart on the same data dir appends to the same log."""
    if data_dir is None:
        base = tempfile.mkdtemp(prefix="causalkv-test-")
        data_dir = os.path.join(base, "data")
        os.mkdir(data_dir)
        owns = True
    else:
        base = os.path.dirname(os.path.abspath(data_dir))
        owns = False
    return data_dir, owns, os.path.join(base, "server.log")


def _start(name, build_argv, data_dir, attempts=3):
    data_dir, owns, log_path = _make_dirs(data_dir)
    last = None
    for _ in range(attempts):
        port = find_free_port()
        srv = ServerProcess(build_argv(port, data_dir), port, data_dir, owns, log_path, name)
        try:
            if srv.wait_ready():
                return srv
        except BaseException:
            srv.kill9(remove_dir=owns)
            raise
        # The process exited before answering: most likely the port was taken
        # between find_free_port() and bind(). Try another port.
        last = srv
        srv.kill9()
    message = ("%s exited before becoming ready (exit code %s), %d attempts\nargv: %s\nlog:\n%s"
               % (name, last.proc.returncode, attempts, last.argv, last.log_text()))
    if owns:
        shutil.rmtree(os.path.dirname(data_dir), ignore_errors=True)
    raise AssertionError(message)


def start_server(binary=None, *extra_args, data_dir=None):
    """Start the causalkv binary on a free port with a fresh temp data dir
    (or `data_dir`, to restart on existing data) and wait until it is ready."""
    binary = binary or server_binary()

    def argv(port, d):
        return [binary, "--port", str(port), "--dir", d, "--bind", "127.0.0.1"] + list(extra_args)
    return _start("causalkv-server", argv, data_dir)


def assert_versions_resume_above(test, r, highest):
    """After a restart, the next version must exceed every version issued
    before it (`highest`): a fresh blind write shows where the counter is."""
    version, _ = r.execute_command("VPUT", "__fresh_version_probe__", 0, "x")
    test.assertGreater(int(version), highest)
    r.delete("__fresh_version_probe__")


def redis_as_subject():
    """True when CAUSALKV_TEST_SUBJECT=redis-server: the comparison tests that
    support it (test_hashes.py, test_differential.py) then start a second
    redis-server in causalkv's place, to check the tests' own logic against
    Redis itself (every comparison must pass with Redis on both sides)."""
    return os.environ.get("CAUSALKV_TEST_SUBJECT", "") == "redis-server"


def start_redis_subject(*extra_args, data_dir=None):
    """A redis-server in causalkv's place (see redis_as_subject), with
    causalkv's defaults: no save points, no AOF unless `extra_args` ask.
    `data_dir` restarts it on existing data, as with start_server."""
    def argv(port, d):
        return [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", d] + list(extra_args)
    return _start("redis-server(subject)", argv, data_dir)


def start_subject(*extra_args, data_dir=None):
    """The server under test: causalkv, or a redis-server when
    redis_as_subject(). Options must then mean the same to both."""
    if redis_as_subject():
        return start_redis_subject(*extra_args, data_dir=data_dir)
    return start_server(None, *extra_args, data_dir=data_dir)


def start_redis_oracle(*extra_args):
    """Start a real redis-server (no persistence) to compare replies against."""
    def argv(port, d):
        return [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", d] + list(extra_args)
    return _start("redis-server(oracle)", argv, None)


class Session:
    """Named raw connections to one server that record every reply and every
    frame pushed to them (messages, invalidations) in `log`, so that the logs
    of the same steps on two servers can be compared. Subclasses may rename
    what differs between servers (normalize, shown)."""

    def __init__(self, port):
        self.port = port
        self.conns = {}
        self.log = []

    def conn(self, name):
        if name not in self.conns:
            self.conns[name] = RawConnection(self.port)
            self.connected(name, self.conns[name])
        return self.conns[name]

    def connected(self, name, conn):
        """Called once per new connection."""

    def normalize(self, raw):
        return raw

    def shown(self, args):
        return args

    def call(self, name, *args, replies=1, sort_replies=False, transform=None):
        """Sends one command and records `replies` frames (its reply and
        what is pushed with it); `sort_replies`: as a sorted group, for
        frames whose order Redis leaves to chance."""
        c = self.conn(name)
        c.send(encode_command(*args))
        self._record(name, self.shown(args), [c.read_reply() for _ in range(replies)],
                     sort_replies, transform)

    def read(self, name, frames=1, sort_frames=False):
        """Records frames that arrive without a command."""
        c = self.conn(name)
        self._record(name, "(pushed)", [c.read_reply() for _ in range(frames)], sort_frames, None)

    def _record(self, name, what, frames, sort, transform):
        frames = [self.normalize(f) for f in frames]
        if sort:
            frames.sort()
        for raw in frames:
            self.log.append((name, what, transform(raw) if transform else raw))

    def close(self):
        for c in self.conns.values():
            c.close()


class OracleCase(unittest.TestCase):
    """A test case with the server under test (cls.subject, also named
    cls.server) and a real redis-server to compare with (cls.oracle), both
    started once for the class and always stopped. `start_subject` makes
    the subject: a suite that checks causalkv's own behaviour too sets it to
    start_server, so that it never runs against redis-server."""

    start_subject = staticmethod(start_subject)

    @classmethod
    def setUpClass(cls):
        cls.oracle = start_redis_oracle()
        try:
            cls.subject = cls.server = cls.start_subject()
        except BaseException:
            cls.oracle.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.subject.stop()
        finally:
            cls.oracle.stop()


# --------------------------------------------------------------------------
# RESP encoding and parsing
# --------------------------------------------------------------------------

def _b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, (int, float)):
        return str(x).encode()
    return str(x).encode("utf-8")


def encode_command(*args):
    """A command as a RESP2 array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = _b(a)
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Incomplete(Exception):
    """The buffer does not yet hold a complete reply."""


class RespError(bytes):
    """An error reply (the text after '-' or '!'), kept apart from strings."""

    def __repr__(self):
        return "RespError(%s)" % bytes.__repr__(self)


class RespMap(dict):
    """A RESP3 map; RESP3 sets decode to RespSet, pushes to RespPush."""


class RespSet(list):
    pass


class RespPush(list):
    pass


def _line(buf, pos):
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    return buf[pos:end], end + 2


def parse_reply(buf, pos=0):
    """Parse one RESP2/RESP3 reply at buf[pos:]. Returns (value, next_pos);
    raises Incomplete if more bytes are needed, ValueError if it is garbage."""
    if pos >= len(buf):
        raise Incomplete()
    t = buf[pos:pos + 1]
    line, nxt = _line(buf, pos + 1)
    if t == b"+":
        return bytes(line), nxt
    if t == b"-":
        return RespError(line), nxt
    if t == b":":
        return int(line), nxt
    if t == b"(":  # RESP3 big number: keep as int
        return int(line), nxt
    if t == b",":
        return float(line), nxt
    if t == b"#":
        return line == b"t", nxt
    if t == b"_":
        return None, nxt
    if t in (b"$", b"!", b"="):
        n = int(line)
        if n < 0:
            return None, nxt
        if len(buf) < nxt + n + 2:
            raise Incomplete()
        if buf[nxt + n:nxt + n + 2] != b"\r\n":
            raise ValueError("bulk string not terminated by CRLF at %d" % (nxt + n))
        data = bytes(buf[nxt:nxt + n])
        return (RespError(data) if t == b"!" else data), nxt + n + 2
    if t in (b"*", b"~", b">"):
        n = int(line)
        if n < 0:
            return None, nxt
        items = []
        for _ in range(n):
            v, nxt = parse_reply(buf, nxt)
            items.append(v)
        if t == b"~":
            return RespSet(items), nxt
        if t == b">":
            return RespPush(items), nxt
        return items, nxt
    if t in (b"%", b"|"):
        n = int(line)
        m = RespMap()
        for _ in range(n):
            k, nxt = parse_reply(buf, nxt)
            v, nxt = parse_reply(buf, nxt)
            if isinstance(k, list):
                k = tuple(k)
            m[k] = v
        if t == b"|":  # an attribute precedes the real reply
            return parse_reply(buf, nxt)
        return m, nxt
    raise ValueError("unknown RESP type byte %r at %d in %r" % (t, pos, bytes(buf[pos:pos + 40])))


def decode(raw):
    """Decode exactly one complete reply (raises if raw holds less or more)."""
    v, end = parse_reply(raw, 0)
    if end != len(raw):
        raise ValueError("trailing bytes after reply: %r" % raw[end:])
    return v


class RawConnection:
    """A plain TCP connection that sends raw bytes and reads raw replies, so
    tests can compare exact bytes and send malformed requests."""

    def __init__(self, port, timeout=IO_TIMEOUT, host="127.0.0.1"):
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed_by_peer = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete reply within %.1fs on port %d; have %r"
                               % (self.timeout, self.port, bytes(self.buf[:200])))
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("no complete reply within %.1fs on port %d; have %r"
                               % (self.timeout, self.port, bytes(self.buf[:200])))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed_by_peer = True
        self.buf += chunk
        return bool(chunk)

    def read_reply(self):
        """The raw bytes of the next complete reply. Raises ConnectionError
        if the peer closed before a complete reply arrived."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                _, end = parse_reply(self.buf, 0)
                raw = bytes(self.buf[:end])
                del self.buf[:end]
                return raw
            except Incomplete:
                pass
            if self.closed_by_peer or not self._fill(deadline):
                raise ConnectionError("port %d closed the connection; partial reply %r"
                                      % (self.port, bytes(self.buf[:200])))

    def call(self, *args):
        """Send one command (RESP array) and return the raw reply bytes."""
        self.send(encode_command(*args))
        return self.read_reply()

    def call_decoded(self, *args):
        return decode(self.call(*args))

    def is_closed_by_peer(self, timeout=3.0):
        """True if the peer closes the connection within `timeout` (any
        unread bytes are kept in self.buf and make this False)."""
        if self.closed_by_peer:
            return not self.buf
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            return False
        return not self.buf


def raw_command(port, data, timeout=IO_TIMEOUT):
    """Send raw bytes on a new connection; return the raw bytes of one complete
    reply, or whatever arrived before the peer closed the connection."""
    with RawConnection(port, timeout) as c:
        c.send(data)
        try:
            return c.read_reply()
        except ConnectionError:
            return bytes(c.buf)


def run_cli(port, *args, stdin=None, timeout=20.0, check=True):
    """Run redis-cli with stdout not a tty (a pipe). Returns CompletedProcess
    with bytes stdout/stderr."""
    argv = [REDIS_CLI, "-p", str(port)] + [str(a) for a in args]
    cp = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=timeout, preexec_fn=_child_preexec)
    if check and cp.returncode != 0:
        raise AssertionError("redis-cli %s exited %d\nstdout: %r\nstderr: %r"
                             % (args, cp.returncode, cp.stdout, cp.stderr))
    return cp
