"""The server binary's command line and lifecycle, as an operator meets them:
--version/--help, bad options and config files refused with exit code 1 and a
message naming the culprit, the default config file accepted, and a clean
exit (code 0) on SIGINT, SIGTERM and SHUTDOWN with replies in flight sent.
"""

import os
import signal
import socket
import subprocess
import tempfile
import unittest

import harness

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONF = os.path.join(REPO, "conf", "causalkv.conf")


def run_binary(*args, timeout=15):
    return subprocess.run([harness.server_binary(), *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class CommandLine(unittest.TestCase):
    def test_version_and_help_exit_zero(self):
        r = run_binary("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("causalkv", r.stdout)
        r = run_binary("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Usage", r.stdout)

    def test_unknown_option_names_it_and_exits_1(self):
        r = run_binary("--no-such-option", "1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no-such-option", r.stderr)

    def test_bad_value_names_the_option(self):
        r = run_binary("--port", "notaport")
        self.assertEqual(r.returncode, 1)
        self.assertIn("port", r.stderr)

    def test_bad_config_file_line_names_file_and_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.conf")
            with open(path, "w") as f:
                f.write("# comment\nport 7000\ndatabases many\n")
            r = run_binary(path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("line 3", r.stderr)
            self.assertIn("databases many", r.stderr)
            self.assertIn("bad.conf", r.stderr)

    def test_missing_config_file_exits_1(self):
        r = run_binary("/nonexistent/causalkv.conf")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/causalkv.conf", r.stderr)

    def test_corrupt_high_water_mark_refuses_to_start(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "causalkv.hwm"), "w") as f:
                f.write("garbage\n")
            r = run_binary("--port", str(harness.find_free_port()), "--dir", d)
            self.assertEqual(r.returncode, 1)
            self.assertIn("causalkv.hwm", r.stdout + r.stderr)


class Lifecycle(unittest.TestCase):
    def test_default_config_file_with_overrides(self):
        # The file must come first on the command line, as with redis-server.
        def argv(port, d):
            return [harness.server_binary(), DEFAULT_CONF, "--port", str(port), "--dir", d,
                    "--bind", "127.0.0.1"]
        srv = harness._start("causalkv-server", argv, None)
        try:
            reply = harness.raw_command(srv.port, b"CONFIG GET databases\r\n")
            self.assertEqual(reply, b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n")
            reply = harness.raw_command(srv.port, b"CONFIG GET port\r\n")
            self.assertEqual(reply, b"*2\r\n$4\r\nport\r\n$%d\r\n%d\r\n"
                             % (len(str(srv.port)), srv.port))
        finally:
            srv.stop()

    def _stop_with_signal(self, sig):
        srv = harness.start_server(harness.server_binary())
        srv.proc.send_signal(sig)
        code = srv.proc.wait(timeout=15)
        self.assertEqual(code, 0, "exit code after %s" % sig)
        srv.stop()  # cleanup only; already exited

    def test_sigterm_exits_zero(self):
        self._stop_with_signal(signal.SIGTERM)

    def test_sigint_exits_zero(self):
        self._stop_with_signal(signal.SIGINT)

    def test_shutdown_sends_replies_already_queued(self):
        # Commands pipelined before SHUTDOWN on the same connection get their
        # replies; the connection is then closed and the process exits 0.
        srv = harness.start_server(harness.server_binary())
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(b"SET a 1\r\nGET a\r\nSHUTDOWN\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        self.assertEqual(data, b"+OK\r\n$1\r\n1\r\n")
        self.assertEqual(srv.proc.wait(timeout=15), 0)
        srv.stop()


if __name__ == "__main__":
    harness.main()
