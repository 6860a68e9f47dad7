#!/usr/bin/python3
"""The seed scenario (DDIA ch. 5, figure 5-13: two clients writing one
shopping cart) replayed with a bare redis-cli, with exact expected output.

Each scenario test starts its own server on a fresh data directory, because
the expected versions (1..5) only hold on an empty version counter.

redis-cli prints differently depending on whether stdout is a tty. Here it
is a pipe, so the default is the "raw" format (one line per leaf, no
numbering); `--no-raw` forces the numbered, nested format a person sees in
a terminal. The expected strings below are literal; FormatSelfCheck verifies
them against what this redis-cli prints for the same reply shape produced by
a real redis-server (via EVAL), so a redis-cli upgrade that changes the
format shows up as a failure there rather than as a mystery here.
"""

import unittest

import harness
from harness import RawConnection, run_cli

# The five writes of the scenario: (command args, version, siblings after).
CART_STEPS = [
    (["VPUT", "cart", "0", "milk"], 1, ["milk"]),
    (["VPUT", "cart", "0", "eggs"], 2, ["milk", "eggs"]),
    (["VPUT", "cart", "1", "milk flour"], 3, ["eggs", "milk flour"]),
    (["VPUT", "cart", "2", "eggs milk ham"], 4, ["milk flour", "eggs milk ham"]),
    (["VPUT", "cart", "3", "milk flour eggs bacon"], 5, ["eggs milk ham", "milk flour eggs bacon"]),
]

# redis-cli output with stdout not a tty (default = raw format).
EXPECTED_RAW = [
    "1\nmilk\n",
    "2\nmilk\neggs\n",
    "3\neggs\nmilk flour\n",
    "4\nmilk flour\neggs milk ham\n",
    "5\neggs milk ham\nmilk flour eggs bacon\n",
]

# redis-cli --no-raw output (numbered, nested arrays indented).
EXPECTED_NO_RAW = [
    '1) (integer) 1\n'
    '2) 1) "milk"\n',
    '1) (integer) 2\n'
    '2) 1) "milk"\n'
    '   2) "eggs"\n',
    '1) (integer) 3\n'
    '2) 1) "eggs"\n'
    '   2) "milk flour"\n',
    '1) (integer) 4\n'
    '2) 1) "milk flour"\n'
    '   2) "eggs milk ham"\n',
    '1) (integer) 5\n'
    '2) 1) "eggs milk ham"\n'
    '   2) "milk flour eggs bacon"\n',
]

# VGET of a missing key is [0, []].
EXPECTED_EMPTY_RAW = "0\n\n"
EXPECTED_EMPTY_NO_RAW = "1) (integer) 0\n2) (empty array)\n"

# The same scenario as inline requests (telnet style), with Redis quoting.
INLINE_REQUESTS = [
    b"VPUT cart 0 milk\r\n",
    b"VPUT cart 0 eggs\r\n",
    b'VPUT cart 1 "milk flour"\r\n',
    b"VPUT cart 2 'eggs milk ham'\r\n",  # single quotes too
    b'VPUT cart 3 "milk flour eggs bacon"\r\n',
]

EXPECTED_RESP = [
    b"*2\r\n:1\r\n*1\r\n$4\r\nmilk\r\n",
    b"*2\r\n:2\r\n*2\r\n$4\r\nmilk\r\n$4\r\neggs\r\n",
    b"*2\r\n:3\r\n*2\r\n$4\r\neggs\r\n$10\r\nmilk flour\r\n",
    b"*2\r\n:4\r\n*2\r\n$10\r\nmilk flour\r\n$13\r\neggs milk ham\r\n",
    b"*2\r\n:5\r\n*2\r\n$13\r\neggs milk ham\r\n$21\r\nmilk flour eggs bacon\r\n",
]


def lua_literal(version, values):
    """A Lua table literal whose EVAL reply has the shape of a VGET reply."""
    return "return {%d,{%s}}" % (version, ",".join("'%s'" % v for v in values))


class FormatSelfCheck(unittest.TestCase):
    """Checks the literal expectations above against real redis-server +
    redis-cli, so the scenario tests cannot drift from redis-cli's format."""

    @classmethod
    def setUpClass(cls):
        cls.oracle = harness.start_redis_oracle()

    @classmethod
    def tearDownClass(cls):
        cls.oracle.stop()

    def test_expected_strings_match_redis_cli_format(self):
        for (_, version, values), raw, no_raw in zip(CART_STEPS, EXPECTED_RAW, EXPECTED_NO_RAW):
            script = lua_literal(version, values)
            out = run_cli(self.oracle.port, "eval", script, "0").stdout.decode()
            self.assertEqual(out, raw, "raw format for %s" % script)
            out = run_cli(self.oracle.port, "--no-raw", "eval", script, "0").stdout.decode()
            self.assertEqual(out, no_raw, "--no-raw format for %s" % script)

    def test_expected_empty_reply_format(self):
        out = run_cli(self.oracle.port, "eval", "return {0,{}}", "0").stdout.decode()
        self.assertEqual(out, EXPECTED_EMPTY_RAW)
        out = run_cli(self.oracle.port, "--no-raw", "eval", "return {0,{}}", "0").stdout.decode()
        self.assertEqual(out, EXPECTED_EMPTY_NO_RAW)

    def test_expected_resp_bytes_match_redis_encoding(self):
        for (_, version, values), resp in zip(CART_STEPS, EXPECTED_RESP):
            got = harness.raw_command(self.oracle.port,
                                      harness.encode_command("EVAL", lua_literal(version, values), 0))
            self.assertEqual(got, resp)


class CartScenarioCli(unittest.TestCase):
    """The seed scenario on a fresh server, through redis-cli."""

    def setUp(self):
        self.server = harness.start_server()

    def tearDown(self):
        self.server.stop()

    def cli(self, *args):
        return run_cli(self.server.port, *args).stdout.decode("utf-8", "replace")

    def test_vget_missing_key(self):
        self.assertEqual(self.cli("VGET", "cart"), EXPECTED_EMPTY_RAW)
        self.assertEqual(self.cli("--no-raw", "VGET", "cart"), EXPECTED_EMPTY_NO_RAW)

    def test_one_invocation_per_command_default_output(self):
        for (args, _, _), expected in zip(CART_STEPS, EXPECTED_RAW):
            self.assertEqual(self.cli(*args), expected, "redis-cli %s" % " ".join(args))
        self.assertEqual(self.cli("VGET", "cart"), EXPECTED_RAW[-1])

    def test_one_invocation_per_command_no_raw_output(self):
        for (args, _, _), expected in zip(CART_STEPS, EXPECTED_NO_RAW):
            self.assertEqual(self.cli("--no-raw", *args), expected,
                             "redis-cli --no-raw %s" % " ".join(args))
        self.assertEqual(self.cli("--no-raw", "VGET", "cart"), EXPECTED_NO_RAW[-1])
        # GET sees the newest sibling only.
        self.assertEqual(self.cli("--no-raw", "GET", "cart"), '"milk flour eggs bacon"\n')

    def test_pipe_mode(self):
        # --pipe sends raw RESP, then an ECHO with 20 random bytes to detect
        # the end, and prints a summary counting only our replies.
        payload = b"".join(harness.encode_command(*args) for args, _, _ in CART_STEPS)
        cp = run_cli(self.server.port, "--pipe", stdin=payload, check=False)
        out = cp.stdout.decode("utf-8", "replace")
        self.assertEqual(cp.returncode, 0, "redis-cli --pipe failed:\n%s\n%s" % (out, cp.stderr))
        self.assertIn("errors: 0, replies: 5\n", out)
        self.assertEqual(self.cli("--no-raw", "VGET", "cart"), EXPECTED_NO_RAW[-1])

    def test_commands_on_stdin(self):
        # With no command arguments and stdin not a tty, redis-cli reads one
        # command per line (its REPL), splitting arguments with Redis quoting
        # rules. It also sends COMMAND DOCS first and asserts on its shape.
        script = "".join(
            "VPUT cart %s \"%s\"\n" % (args[2], args[3]) for args, _, _ in CART_STEPS)
        cp = run_cli(self.server.port, stdin=script.encode(), check=False)
        self.assertEqual(cp.returncode, 0, "redis-cli stdin mode failed: %r %r" % (cp.stdout, cp.stderr))
        self.assertEqual(cp.stdout.decode(), "".join(EXPECTED_RAW))


class CartScenarioInline(unittest.TestCase):
    """The seed scenario as inline requests over a raw socket."""

    def setUp(self):
        self.server = harness.start_server()

    def tearDown(self):
        self.server.stop()

    def test_inline_one_request_at_a_time(self):
        with RawConnection(self.server.port) as c:
            for req, expected in zip(INLINE_REQUESTS, EXPECTED_RESP):
                c.send(req)
                self.assertEqual(c.read_reply(), expected, "reply to %r" % req)
            c.send(b"VGET cart\r\n")
            self.assertEqual(c.read_reply(), EXPECTED_RESP[-1])

    def test_inline_pipelined_in_one_write(self):
        with RawConnection(self.server.port) as c:
            c.send(b"".join(INLINE_REQUESTS) + b"VGET cart\n")  # bare LF is accepted inline
            for req, expected in zip(INLINE_REQUESTS, EXPECTED_RESP):
                self.assertEqual(c.read_reply(), expected, "reply to %r" % req)
            self.assertEqual(c.read_reply(), EXPECTED_RESP[-1])

    def test_first_write_via_raw_command(self):
        self.assertEqual(harness.raw_command(self.server.port, b"VPUT cart 0 milk\r\n"),
                         EXPECTED_RESP[0])


if __name__ == "__main__":
    harness.main()
