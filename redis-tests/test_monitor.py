#!/usr/bin/python3
"""MONITOR against a real redis-server (Debian's 7.0.15) as the spec: the
same commands run on both servers, and every line a monitor receives is
compared byte for byte, with the timestamp and the client's port (which
differ between servers) replaced. Covers the quoting of binary arguments,
AUTH and HELLO passwords redacted, admin commands and refused commands left
out, MULTI/EXEC, SELECT, a script's own commands ("lua"), the monitor's own
commands, what a monitor may not run, and RESET. redis-cli's MONITOR mode
is checked as a real client.

CAUSALKV_TEST_SUBJECT=redis-server runs it with Redis on both sides."""

import re
import subprocess
import time

import harness
from harness import RawConnection, encode_command

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


def normalized(raw, ports):
    """A monitor line with its time removed and client ports named."""
    m = LINE.match(raw.rstrip(b"\r\n"))
    assert m, raw
    origin = m.group(4)
    for port, name in ports.items():
        origin = origin.replace(b":%d" % port, b":<%s>" % name.encode())
    return b"[%s %s] %s" % (m.group(3), origin, m.group(5))


class MonitorOracle(harness.OracleCase):
    COMMANDS = [
        ("SET", "k", b'a "q"\n\x01\xff\\ z\t\x07\x08\r'),
        ("GET", "k"),
        ("AUTH", "secret"),
        ("AUTH", "default", "pw"),
        ("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app"),
        ("HELLO", "2"),
        ("CONFIG", "GET", "port"),
        ("FOO",),
        ("GET",),
        ("MULTI",),
        ("INCR", "n"),
        ("EXEC",),
        ("SELECT", "3"),
        ("SET", "x", ""),
        ("EVAL", "redis.call('set','lk','1') return 1", "0"),
        ("CLIENT", "SETNAME", "x"),
        ("PING",),
        ("DEBUG", "SLEEP", "0"),
        ("MONITOR",),
    ]

    def session(self, port):
        lines = []
        with RawConnection(port) as mon, RawConnection(port) as app:
            self.assertEqual(mon.call("MONITOR"), b"+OK\r\n")
            ports = {app.sock.getsockname()[1]: "app", mon.sock.getsockname()[1]: "monitor"}
            for command in self.COMMANDS:
                app.send(encode_command(*command))
                app.read_reply()
            app.call("ECHO", "end")  # the marker: everything before it has been fed
            while True:
                line = normalized(mon.read_reply(), ports)
                lines.append(line)
                if line.endswith(b'"ECHO" "end"'):
                    break
            replies = [mon.call("GET", "k"), mon.call("PING")]
            lines.append(normalized(mon.read_reply(), ports))  # its own PING
            mon.send(encode_command("MONITOR"))  # already: no reply at all
            replies.append(mon.call("RESET"))
            replies.append(mon.call("GET", "k"))  # a normal client again
            app.call("PING")
            replies.append(mon.call("PING"))  # and nothing was fed to it meanwhile
        return lines, replies

    def test_lines_match_redis(self):
        with RawConnection(self.oracle.port) as c:
            c.call("FLUSHALL")
        with RawConnection(self.subject.port) as c:
            c.call("FLUSHALL")
        want = self.session(self.oracle.port)
        got = self.session(self.subject.port)
        self.assertEqual(want[0], got[0])
        self.assertEqual(want[1], got[1])

    def test_timestamps_are_microseconds_now(self):
        with RawConnection(self.subject.port) as mon, RawConnection(self.subject.port) as app:
            mon.call("MONITOR")
            before = time.time()
            app.call("SET", "t", "1")
            m = LINE.match(mon.read_reply().rstrip(b"\r\n"))
            stamp = float(m.group(1) + b"." + m.group(2))
            self.assertLess(abs(stamp - before), 5)

    def test_redis_cli_monitor(self):
        proc = subprocess.Popen(["redis-cli", "-p", str(self.subject.port), "monitor"],
                                stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(proc.stdout.readline().strip(), "OK")
            with RawConnection(self.subject.port) as app:
                app.call("SET", "seen", "by redis-cli")
            line = proc.stdout.readline()
            self.assertRegex(line, r'^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "seen" '
                                   r'"by redis-cli"$')
        finally:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    harness.main()
