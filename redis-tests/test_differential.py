#!/usr/bin/python3
"""Differential test: random command sequences, causalkv against redis-server.

The same random sequences go to causalkv and to a real redis-server (the
Debian 7.0 package) over raw sockets as RESP arrays, and the raw reply bytes
are compared. A sequence is a series of *batches*; each batch is written to
one connection at once (pipelining: 1 to 16 commands, sometimes in random
chunks) and read back up to a sentinel `ECHO`, so a server that sends too few
or too many replies is caught too. Batches mix:

  * every plain command causalkv supports (the test asks causalkv's
    `COMMAND LIST` and fails if a command is neither generated nor listed in
    EXCLUDED below), with random, boundary and malformed arguments (wrong
    arity, non-integers, overflowing numbers, negative and past TTLs,
    conflicting options, binary and empty keys and values);
  * protocol switches (HELLO 2 / HELLO 3, RESET), SELECT, CLIENT REPLY
    OFF/ON/SKIP, QUIT (and a reconnect);
  * MULTI blocks ending in EXEC or DISCARD, with queued, refused and nested
    commands, WATCH on one connection and writes from a second connection.

The key space is a handful of keys so that commands interact. Every *epoch*
(20 to 60 batches) starts on fresh connections with FLUSHALL on both servers;
a failure prints the epoch so far as a redis-cli transcript (each command with
both replies) that reproduces it.

Determinism. Replies that depend on the clock or on hash order are
normalized, nothing else:
  * TTL, PTTL, EXPIRETIME, PEXPIRETIME: positive values within 2 s;
  * KEYS and the page of `SCAN 0 COUNT 1000 ...` compared sorted; the only
    SCAN cursors sent are 0 and malformed ones;
  * RANDOMKEY: any key against any key (nil must match nil).
No positive TTL shorter than 1000 s is ever set (keys expire only at once,
through zero, negative or past times; SET never gets a past EXAT/PXAT, which
leaves an expired key that DBSIZE counts until active expiry runs), and the relative TTLs used with GT/LT
are unique in a run and 1000 s apart, so that two servers reading their clocks
a few milliseconds apart cannot decide a comparison differently.

Known differences live in differential_known.json, each with its reason; a
difference is tolerated only if an entry there matches it (command, argument
and both replies, by regular expression), and entries marked "skip" are never
sent. After a tolerated difference marked "diverges" the epoch ends (the
servers' states may differ from then on).

Environment: DIFF_SEED (default fixed), DIFF_BATCHES (default 15000, about
6 s on an idle machine, when DIFF_SECONDS is not set), DIFF_SECONDS (run for that long: the
random-seed runs of `make differential`), DIFF_KEEP_GOING=1 (print every
difference in one line and go on, for hunting differences).
"""

import collections
import json
import os
import random
import re
import sys
import time
import unittest

import harness
from harness import Incomplete, RawConnection, encode_command, parse_reply

DEFAULT_SEED = 20261202
KNOWN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "differential_known.json")

# Commands causalkv supports that this test does not generate, and why. Any
# other command in causalkv's COMMAND LIST must be generated (see
# test_every_command_is_covered).
EXCLUDED = {
    "vget": "causalkv's own versioned command, no Redis counterpart",
    "vput": "causalkv's own versioned command, no Redis counterpart",
    "vdel": "causalkv's own versioned command, no Redis counterpart",
    "info": "instance-specific text (uptime, memory, pids)",
    "time": "the clock",
    "lastsave": "the clock",
    "shutdown": "stops the server",
    "bgsave": "background child timing (a second BGSAVE depends on the first)",
    "bgrewriteaof": "background child timing; the oracle runs without an AOF",
}
EXCLUDED_PREFIXES = ("peer.",)  # the replication protocol between causalkv nodes

KEYS = [b"a", b"b", b"c", b"n", b"f", b"", b"bin\x00\r\n\xff", b"{t}x"]
KEY_WEIGHTS = [6, 5, 3, 5, 3, 1, 1, 1]

VALUES = [b"", b"v", b"hello", b"0", b"1", b"-1", b"10", b"007", b"9223372036854775807",
          b"-9223372036854775808", b"9223372036854775808", b"3.14", b"-0.5", b"1e3", b"0.1",
          b" 1", b"abc", b"\x00\xff\r\n$1\r\n*", b"x" * 300, b"12345678901234567890",
          b"+5", b"-0", b"inf", b"nan", b"1.5e2", b"0x10", b"\t", b"42"]

INTS = [b"0", b"1", b"-1", b"2", b"3", b"5", b"-3", b"10", b"100", b"-100", b"abc", b"1.5", b"",
        b" 1", b"+1", b"01", b"0x10", b"9223372036854775807", b"-9223372036854775808",
        b"9223372036854775808", b"-9223372036854775809", b"4294967296", b"2147483648",
        b"-2147483649", b"1e3", b"-0"]

FLOATS = [b"0.1", b"0.2", b"-0.3", b"1.5", b"1e3", b"2.5e-3", b"-1e10", b"3", b"0", b"-0",
          b"abc", b"", b"nan", b"inf", b"-inf", b" 1", b"1 ", b"123456789.987654321", b".5",
          b"5.", b"1e", b"0x1p3", b"+2", b"1e-5", b"-7.25", b"10", b"1.0e1"]

PATTERNS = [b"*", b"?", b"[a-c]", b"n*", b"\\*", b"", b"[", b"*\x00*", b"{t}*", b"[^a]",
            b"a", b"*x", b"b?n*", b"[!a]*", b"**"]

# Absolute expiry times far in the future (2100 and after) or in the past.
ABS_SECONDS = [b"4102444800", b"4102448400", b"4102452000", b"4102444801", b"1", b"0", b"-1",
               b"1000000000", b"abc", b"", b"9223372036854775807", b"9223372036854775",
               b"1.5", b"-9223372036854775808"]
ABS_MS = [b"4102444800000", b"4102444800999", b"4102448400500", b"4102452000001", b"1", b"0",
          b"1000", b"-5", b"xyz", b"9223372036854775807", b"9223372036854775808",
          b"1000000000000", b"2.5"]
PAST_TIMES = {b"1", b"1000", b"1000000000", b"1000000000000"}
# Relative times that set no TTL (zero, negative, malformed, overflowing) or
# a TTL millions of years away (far from every other relative time).
REL_BOUNDARY_S = [b"0", b"-1", b"-100", b"abc", b"", b"1.5", b"9223372036854775807",
                  b"9223372036854775808", b"-9223372036854775808", b"9223372036854775",
                  b"9223372036854", b"4611686018427387904", b" 10"]
REL_BOUNDARY_MS = [b"0", b"-1", b"-100000", b"abc", b"", b"2.5", b"9223372036854775807",
                   b"-9223372036854775808", b"9223372036854775", b"100000000000000000"]

CONNECTION_NAMES = [b"w1", b"worker-2", b"a b", b"", b"x\ny", b"\xe9", b"name:1"]

UNKNOWN = [b"FOO", b"NOSUCHCMD", b"GETT", b"VGETX", b"SETT"]

NO_POP = {b"MULTI", b"TIME", b"LASTSAVE", b"BGREWRITEAOF", b"SLOWLOG"}

NORM_NONE, NORM_TTL_S, NORM_TTL_MS, NORM_KEYS, NORM_SCAN, NORM_RANDOMKEY, NORM_HELLO = range(7)


NORM_BY_NAME = {"TTL": NORM_TTL_S, "EXPIRETIME": NORM_TTL_S, "PTTL": NORM_TTL_MS,
                "PEXPIRETIME": NORM_TTL_MS, "KEYS": NORM_KEYS, "SCAN": NORM_SCAN,
                "RANDOMKEY": NORM_RANDOMKEY, "HELLO": NORM_HELLO}


class Cmd:
    __slots__ = ("args",)

    def __init__(self, args, norm=None):
        # `norm` only documents the intent at the call site: the
        # normalization follows from the command's name (see NORM_BY_NAME),
        # whatever the arguments became.
        self.args = [a if isinstance(a, bytes) else str(a).encode() for a in args]

    @property
    def norm(self):
        return NORM_BY_NAME.get(self.name(), NORM_NONE)

    def name(self):
        """Upper-case command name, with the subcommand for containers."""
        if not self.args:
            return ""
        n = self.args[0].decode("latin-1").upper()
        if n in ("CLIENT", "CONFIG", "COMMAND", "SLOWLOG") and len(self.args) > 1:
            return n + " " + self.args[1].decode("latin-1").upper()
        return n

    def args_text(self):
        """The arguments after the name (and subcommand), redis-cli quoted."""
        skip = 2 if " " in self.name() else 1
        return " ".join(cli_quote(a) for a in self.args[skip:])


# --------------------------------------------------------------------------
# Random command generation
# --------------------------------------------------------------------------

class Generator:
    def __init__(self, rng):
        self.r = rng
        self.used_relative = set()
        self.generated = collections.Counter()  # lower-case command name -> count

    # ---- argument pickers ------------------------------------------------

    def key(self):
        return self.r.choices(KEYS, KEY_WEIGHTS)[0]

    def keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def value(self):
        if self.r.random() < 0.1:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 12)))
        return self.r.choice(VALUES)

    def integer(self):
        if self.r.random() < 0.4:
            return str(self.r.randint(-20, 20)).encode()
        return self.r.choice(INTS)

    def float_(self):
        if self.r.random() < 0.3:
            return ("%.*f" % (self.r.randint(0, 4), self.r.uniform(-1000, 1000))).encode()
        return self.r.choice(FLOATS)

    def rel_unique(self, ms):
        """A fresh relative TTL, 1000 s away from every other one of this run."""
        while True:
            u = self.r.randint(1, 10 ** 6)
            if u not in self.used_relative:
                self.used_relative.add(u)
                break
        seconds = u * 1000 + 7
        if ms:
            return str(seconds * 1000 + self.r.randint(0, 999)).encode()
        return str(seconds).encode()

    def rel(self, ms, allow_boundary=True):
        if allow_boundary and self.r.random() < 0.3:
            return self.r.choice(REL_BOUNDARY_MS if ms else REL_BOUNDARY_S)
        return self.rel_unique(ms)

    def expire_time(self, unit, past=True):
        """The time for an EX/PX/EXAT/PXAT option of SET or GETEX. SET with
        a time in the past (past=False avoids it) stores a key that is
        already expired, which DBSIZE counts until each server's active
        expiry reclaims it: a matter of timing."""
        if unit == "EX":
            return self.rel(False)
        if unit == "PX":
            return self.rel(True)
        choices = ABS_SECONDS if unit == "EXAT" else ABS_MS
        if not past:
            choices = [t for t in choices if t not in PAST_TIMES]
        return self.r.choice(choices)

    def case(self, name):
        c = self.r.random()
        if c < 0.8:
            return name
        if c < 0.9:
            return name.lower()
        return bytes(ch ^ 0x20 if self.r.random() < 0.5 and chr(ch).isalpha() else ch
                     for ch in name)

    # ---- commands ----------------------------------------------------------

    def cmd_set(self):
        args = [b"SET", self.key(), self.value()]
        opts = []
        for _ in range(self.r.choice([0, 0, 1, 1, 1, 2, 2, 3])):
            o = self.r.choice([b"NX", b"XX", b"GET", b"EX", b"PX", b"EXAT", b"PXAT", b"KEEPTTL",
                               b"nx", b"ex", b"BOGUS"])
            if o.upper() in (b"EX", b"PX", b"EXAT", b"PXAT"):
                opts += [o, self.expire_time(o.upper().decode(), past=False)]
            else:
                opts.append(o)
        return Cmd(args + opts)

    def cmd_getex(self):
        args = [b"GETEX", self.key()]
        for _ in range(self.r.choice([0, 1, 1, 1, 2])):
            o = self.r.choice([b"EX", b"PX", b"EXAT", b"PXAT", b"PERSIST", b"KEEPTTL", b"px"])
            if o.upper() in (b"EX", b"PX", b"EXAT", b"PXAT"):
                args += [o, self.expire_time(o.upper().decode())]
            else:
                args.append(o)
        return Cmd(args)

    def cmd_expire(self, name):
        ms = name.startswith(b"P")
        absolute = name.endswith(b"AT")
        flags = []
        for _ in range(self.r.choice([0, 0, 1, 1, 2])):
            flags.append(self.r.choice([b"NX", b"XX", b"GT", b"LT", b"gt", b"FOO"]))
        compare = any(f.upper() in (b"GT", b"LT") for f in flags)
        if absolute:
            t = self.r.choice(ABS_MS if ms else ABS_SECONDS)
        elif compare:
            # Ties between relative times depend on each server's clock: only
            # unique (1000 s apart) or non-positive/malformed times.
            t = (self.r.choice([b"0", b"-1", b"abc", b"-100"]) if self.r.random() < 0.2
                 else self.rel_unique(ms))
        else:
            t = self.rel(ms)
        return Cmd([name, self.key(), t] + flags)

    def cmd_mset(self, name):
        args = [name]
        for _ in range(self.r.randint(1, 3)):
            args += [self.key(), self.value()]
        return Cmd(args)

    def cmd_scan(self):
        r = self.r.random()
        if r < 0.25:  # malformed
            return Cmd([b"SCAN", self.r.choice([b"abc", b"-1.5", b"18446744073709551616", b"",
                                                b" 0", b"0x1"])] +
                       self.r.choice([[], [b"COUNT", b"10"]]))
        args = [b"SCAN", b"0", b"COUNT", b"1000"]
        if r < 0.35:
            args[3] = self.r.choice([b"0", b"-1", b"x", b"9223372036854775808"])
        if self.r.random() < 0.5:
            args += [b"MATCH", self.r.choice(PATTERNS)]
        if self.r.random() < 0.3:
            args += [b"TYPE", self.r.choice([b"string", b"list", b"STRING", b"nosuchtype"])]
        if self.r.random() < 0.05:
            args += [self.r.choice([b"MATCH", b"FOO", b"COUNT"])]
        return Cmd(args, NORM_SCAN)

    def cmd_hello(self):
        args = [b"HELLO"]
        r = self.r.random()
        if r < 0.85:
            args.append(self.r.choice([b"2", b"3", b"3", b"2"]))
        elif r < 0.95:
            args.append(self.r.choice([b"1", b"4", b"abc", b"-1", b"3.0", b"9223372036854775808"]))
        if len(args) == 2 and self.r.random() < 0.2:
            args += [b"SETNAME", self.r.choice(CONNECTION_NAMES)]
        if len(args) >= 2 and self.r.random() < 0.1:
            args += [b"AUTH", b"default", self.r.choice([b"pw", b""])]
        if len(args) >= 2 and self.r.random() < 0.05:
            args += [self.r.choice([b"FOO", b"SETNAME", b"AUTH"])]
        return Cmd(args, NORM_HELLO)

    def cmd_client(self):
        r = self.r.random()
        if r < 0.25:
            return Cmd([b"CLIENT", b"SETNAME", self.r.choice(CONNECTION_NAMES)])
        if r < 0.45:
            return Cmd([b"CLIENT", b"GETNAME"])
        if r < 0.55:
            return Cmd([b"CLIENT", self.r.choice([b"NO-EVICT", b"no-evict"]),
                        self.r.choice([b"ON", b"off", b"maybe"])])
        if r < 0.6:
            return Cmd([b"CLIENT", b"NO-TOUCH", self.r.choice([b"ON", b"OFF", b"x"])])
        if r < 0.65:
            return Cmd([b"CLIENT", b"SETINFO", self.r.choice([b"LIB-NAME", b"LIB-VER", b"FOO"]),
                        self.r.choice([b"redis-py", b"1.0", b"a b"])])
        if r < 0.75:
            return Cmd([b"CLIENT", b"KILL"] + self.r.choice([
                [b"1.2.3.4:5"], [b"ADDR", b"1.2.3.4:5"], [b"ID", b"abc"], [b"ID", b"999999"],
                [b"TYPE", b"nosuch"], [b"FOO", b"bar"], [b"SKIPME", b"maybe"]]))
        if r < 0.85:
            return Cmd([b"CLIENT", b"REPLY", self.r.choice([b"FOO", b""])])
        if r < 0.95:
            return Cmd([b"CLIENT", self.r.choice([b"NOSUCHSUB", b"", b"GETNAME"]),
                        b"extra"])
        return Cmd([b"CLIENT"])

    def cmd_config(self):
        return Cmd(self.r.choice([
            [b"CONFIG", b"GET", b"databases"], [b"CONFIG", b"GET", b"nosuchoption"],
            [b"CONFIG", b"GET"], [b"CONFIG", b"SET", b"nosuchoption", b"1"],
            [b"CONFIG", b"SET", b"databases"], [b"CONFIG", b"RESETSTAT"],
            [b"CONFIG", b"NOSUCH"], [b"CONFIG"], [b"CONFIG", b"RESETSTAT", b"x"]]))

    def cmd_command(self):
        inner = self.r.choice([
            [b"SET", self.key(), b"v"], [b"GET", self.key()], [b"MSET", b"a", b"1", b"b", b"2"],
            [b"MGET", b"a", b"b", b"c"], [b"DEL", b"a", b"b"], [b"RENAME", b"a", b"b"],
            [b"PING"], [b"NOSUCH", b"x"], [b"GET"], [b"EXPIRE", b"n", b"10"],
            [b"MSET", b"a"], [b"EXISTS", b"x", b"y", b"z"], [b"TOUCH", b"a"],
            [b"WATCH", b"a", b"b"], [b"GETEX", b"a", b"EX", b"5"]])
        return Cmd([b"COMMAND", b"GETKEYS"] + inner)

    def cmd_slowlog(self):
        return Cmd(self.r.choice([[b"SLOWLOG", b"RESET"], [b"SLOWLOG", b"GET", b"abc"],
                                  [b"SLOWLOG", b"NOSUCH"], [b"SLOWLOG"],
                                  [b"SLOWLOG", b"RESET", b"x"], [b"SLOWLOG", b"LEN", b"x"]]))

    def one(self):
        """One random plain command (not a control sequence)."""
        r = self.r
        k = self.key
        table = [
            (8, lambda: Cmd([b"GET", k()])),
            (8, self.cmd_set),
            (2, lambda: Cmd([b"SETNX", k(), self.value()])),
            (2, lambda: Cmd([b"SETEX", k(), self.rel(False), self.value()])),
            (2, lambda: Cmd([b"PSETEX", k(), self.rel(True), self.value()])),
            (2, lambda: Cmd([b"GETSET", k(), self.value()])),
            (2, lambda: Cmd([b"GETDEL", k()])),
            (3, self.cmd_getex),
            (3, lambda: Cmd([b"MGET"] + self.keys())),
            (2, lambda: self.cmd_mset(b"MSET")),
            (2, lambda: self.cmd_mset(b"MSETNX")),
            (4, lambda: Cmd([b"APPEND", k(), self.value()])),
            (2, lambda: Cmd([b"STRLEN", k()])),
            (3, lambda: Cmd([b"GETRANGE", k(), self.integer(), self.integer()])),
            (3, lambda: Cmd([b"SETRANGE", k()] + r.choice([
                [str(r.randint(0, 40)).encode(), self.value()],
                [self.integer(), self.value()],
                [r.choice([b"536870911", b"1000000"]), b""],
                [b"536870912", b"x"]]))),
            (4, lambda: Cmd([b"INCR", k()])),
            (3, lambda: Cmd([b"DECR", k()])),
            (3, lambda: Cmd([b"INCRBY", k(), self.integer()])),
            (3, lambda: Cmd([b"DECRBY", k(), self.integer()])),
            (4, lambda: Cmd([b"INCRBYFLOAT", k(), self.float_()])),
            (3, lambda: Cmd([b"DEL"] + self.keys())),
            (1, lambda: Cmd([b"UNLINK"] + self.keys())),
            (3, lambda: Cmd([b"EXISTS"] + self.keys())),
            (1, lambda: Cmd([b"TOUCH"] + self.keys())),
            (2, lambda: Cmd([b"TYPE", k()])),
            (2, lambda: Cmd([b"RENAME", k(), k()])),
            (2, lambda: Cmd([b"RENAMENX", k(), k()])),
            (2, lambda: Cmd([b"MOVE", k(), r.choice([b"0", b"1", b"2", b"15", b"16", b"-1",
                                                     b"abc"])])),
            (2, lambda: Cmd([b"KEYS", r.choice(PATTERNS)], NORM_KEYS)),
            (2, self.cmd_scan),
            (1, lambda: Cmd([b"RANDOMKEY"], NORM_RANDOMKEY)),
            (2, lambda: self.cmd_expire(b"EXPIRE")),
            (2, lambda: self.cmd_expire(b"PEXPIRE")),
            (2, lambda: self.cmd_expire(b"EXPIREAT")),
            (2, lambda: self.cmd_expire(b"PEXPIREAT")),
            (3, lambda: Cmd([b"TTL", k()], NORM_TTL_S)),
            (3, lambda: Cmd([b"PTTL", k()], NORM_TTL_MS)),
            (2, lambda: Cmd([b"EXPIRETIME", k()], NORM_TTL_S)),
            (2, lambda: Cmd([b"PEXPIRETIME", k()], NORM_TTL_MS)),
            (2, lambda: Cmd([b"PERSIST", k()])),
            (2, lambda: Cmd([b"DBSIZE"])),
            (1, lambda: Cmd([r.choice([b"FLUSHDB", b"FLUSHALL"])] +
                            r.choice([[], [], [b"SYNC"], [b"ASYNC"], [b"FOO"],
                                      [b"ASYNC", b"SYNC"]]))),
            (2, lambda: Cmd([b"PING"] + r.choice([[], [self.value()], [b"a", b"b"]]))),
            (2, lambda: Cmd([b"ECHO", self.value()])),
            (2, lambda: Cmd([b"SELECT", r.choice([b"0", b"0", b"1", b"2", b"15", b"16", b"-1",
                                                  b"abc", b"1.0", b"4294967296"])])),
            (2, self.cmd_hello),
            (1, lambda: Cmd([b"AUTH"] + r.choice([[b"pw"], [b"default", b"pw"],
                                                  [b"nosuchuser", b"pw"], [b"a", b"b", b"c"]]))),
            (1, lambda: Cmd([b"RESET"])),
            (1, lambda: Cmd([r.choice([b"READONLY", b"READWRITE"])])),
            (3, self.cmd_client),
            (1, self.cmd_config),
            (1, self.cmd_command),
            (1, self.cmd_slowlog),
            (0.2, lambda: Cmd([b"SAVE"])),
            (1, lambda: Cmd([r.choice([b"TIME", b"LASTSAVE", b"SAVE", b"BGREWRITEAOF",
                                       b"DBSIZE", b"RANDOMKEY", b"UNWATCH", b"MULTI",
                                       b"EXEC", b"DISCARD", b"READONLY", b"RESET"]), b"x"])),
            (2, lambda: Cmd([b"WATCH"] + self.keys())),
            (1, lambda: Cmd([b"UNWATCH"])),
            (0.5, lambda: Cmd([r.choice([b"EXEC", b"DISCARD"])])),
            (1, lambda: Cmd([r.choice(UNKNOWN)] + self.keys(0, 2))),
        ]
        weights = [w for w, _ in table]
        cmd = r.choices(table, weights)[0][1]()
        # Arity and syntax damage: drop the last argument or add a junk one.
        # Not for commands whose shorter form is excluded (TIME x -> TIME) or
        # would leave a transaction open (MULTI x -> MULTI).
        if cmd.args[0] == b"SCAN":
            pass  # SCAN 0 COUNT 1000 COUNT 1 would page: cmd_scan damages SCAN itself
        elif r.random() < 0.06 and len(cmd.args) > 1 and cmd.args[0] not in NO_POP:
            cmd.args.pop()
        elif r.random() < 0.04:
            cmd.args.append(r.choice([b"x", b"", b"1", b"NX"]))
        self.generated[cmd.args[0].decode("latin-1").lower()] += 1
        cmd.args[0] = self.case(cmd.args[0])
        return cmd

    def one_no_watch(self):
        while True:
            cmd = self.one()
            if cmd.name() != "WATCH":
                return cmd

    def multi_block(self):
        """MULTI, queued commands (some refused), EXEC or DISCARD."""
        out = [Cmd([b"MULTI"])]
        self.generated["multi"] += 1
        for _ in range(self.r.randint(0, 6)):
            c = self.r.random()
            if c < 0.05:
                out.append(Cmd([b"MULTI"]))
            elif c < 0.1:
                out.append(Cmd([b"WATCH", self.key()]))
            else:
                cmd = self.one()
                # Commands that end or switch the connection are tested outside
                # MULTI; within a block they would only end it early.
                if cmd.name() in ("RESET", "EXEC", "DISCARD", "MULTI", "HELLO") and \
                        self.r.random() < 0.8:
                    continue
                if cmd.name() == "EXEC":
                    continue  # the transaction's EXEC must end the batch
                out.append(cmd)
        end = b"EXEC" if self.r.random() < 0.75 else b"DISCARD"
        self.generated[end.decode().lower()] += 1
        out.append(Cmd([end]))
        return out

    def batch(self):
        """A list of commands for one connection, written at once. Returns
        (commands, ends_with_quit)."""
        r = self.r
        out = []
        n = r.choice([1, 1, 1, 2, 3, 4, 6, 8, 12, 16])
        while len(out) < n:
            c = r.random()
            if c < 0.1:
                # A transaction ends its batch, so that the state after the
                # batch is the state EXEC saw (see watched_key_missing).
                out += self.multi_block()
                break
            elif c < 0.13:
                self.generated["client"] += 1
                out += [Cmd([b"CLIENT", b"REPLY", b"SKIP"]), self.one_no_watch()]
            elif c < 0.15:
                self.generated["client"] += 1
                out.append(Cmd([b"CLIENT", b"REPLY", b"OFF"]))
                out += [self.one_no_watch() for _ in range(r.randint(0, 3))]
                out.append(Cmd([b"CLIENT", b"REPLY", r.choice([b"ON", b"on"])]))
            else:
                out.append(self.one())
                if out[-1].name() == "WATCH":
                    # A WATCH ends its batch, so that the state after the
                    # batch is the state it watched (see watched_unchanged).
                    break
        if r.random() < 0.01:
            self.generated["quit"] += 1
            out.append(Cmd([b"QUIT"] + r.choice([[], [], [b"x"]])))
            return out, True
        return out, False


# --------------------------------------------------------------------------
# Replies: splitting, normalizing, rendering
# --------------------------------------------------------------------------

def element_spans(raw):
    """For an array reply, the raw bytes of each element; else None."""
    if not raw or raw[:1] not in (b"*", b"~", b">"):
        return None
    line_end = raw.index(b"\r\n")
    n = int(raw[1:line_end])
    if n < 0:
        return None
    pos = line_end + 2
    out = []
    for _ in range(n):
        _, nxt = parse_reply(raw, pos)
        out.append(raw[pos:nxt])
        pos = nxt
    return out


def parse_typed(buf, pos=0):
    """(node, next_pos) where node = (type byte, value); for rendering."""
    t = buf[pos:pos + 1]
    end = buf.index(b"\r\n", pos)
    line = buf[pos + 1:end]
    nxt = end + 2
    if t in (b"$", b"!", b"="):
        n = int(line)
        if n < 0:
            return (b"_", None), nxt
        return (t, buf[nxt:nxt + n]), nxt + n + 2
    if t in (b"*", b"~", b">"):
        n = int(line)
        if n < 0:
            return (b"_", None), nxt
        items = []
        for _ in range(n):
            v, nxt = parse_typed(buf, nxt)
            items.append(v)
        return (t, items), nxt
    if t in (b"%", b"|"):
        items = []
        for _ in range(int(line)):
            k, nxt = parse_typed(buf, nxt)
            v, nxt = parse_typed(buf, nxt)
            items.append((k, v))
        return (b"%", items), nxt
    return (t, line), nxt


def cli_quote(arg):
    """An argument as redis-cli would need it typed."""
    if arg and all(33 <= ch < 127 and ch not in b"\"'\\" for ch in arg):
        return arg.decode()
    out = []
    for ch in arg:
        if ch == 0x22:
            out.append('\\"')
        elif ch == 0x5c:
            out.append("\\\\")
        elif ch == 0x0a:
            out.append("\\n")
        elif ch == 0x0d:
            out.append("\\r")
        elif ch == 0x09:
            out.append("\\t")
        elif 32 <= ch < 127:
            out.append(chr(ch))
        else:
            out.append("\\x%02x" % ch)
    return '"' + "".join(out) + '"'


def render_node(node, indent):
    t, v = node
    if t == b"_":
        return "(nil)"
    if t == b"+":
        return v.decode("latin-1")
    if t in (b"-", b"!"):
        return "(error) " + v.decode("latin-1")
    if t in (b":", b"("):
        return "(integer) " + v.decode()
    if t == b",":
        return "(double) " + v.decode()
    if t == b"#":
        return "(true)" if v == b"t" else "(false)"
    if t in (b"$", b"="):
        return cli_quote(v) if v else '""'
    if t in (b"*", b"~", b">", b"%"):
        if not v:
            return "(empty array)" if t != b"%" else "(empty hash)"
        width = len(str(len(v)))
        lines = []
        for i, item in enumerate(v):
            prefix = "%*d%s " % (width, i + 1, "#" if t == b"%" else ")")
            if t == b"%":
                text = render_node(item[0], 0) + " => " + render_node(item[1], indent + len(prefix))
            else:
                text = render_node(item, indent + len(prefix))
            lines.append((" " * indent if i else "") + prefix + text)
        return "\n".join(lines)
    return repr(v)


def render(raw):
    if raw is None:
        return "(no reply)"
    if isinstance(raw, str):
        return raw
    try:
        node, end = parse_typed(raw, 0)
        text = render_node(node, 0)
        return text if end == len(raw) else text + "  [+ trailing %r]" % raw[end:]
    except (ValueError, IndexError):
        return repr(raw)


# --------------------------------------------------------------------------
# Known differences
# --------------------------------------------------------------------------

class Known:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.entries = data["differences"]
        for e in self.entries:
            for field in ("id", "kind", "reason", "command"):
                if field not in e:
                    raise ValueError("%s: entry %r lacks %r" % (path, e.get("id"), field))
            e["_args"] = re.compile(e.get("args", ".*"), re.S)
            e["_redis"] = re.compile(e.get("redis", ".*"), re.S)
            e["_causalkv"] = re.compile(e.get("causalkv", ".*"), re.S)
        self.hello_ignored = set()
        for e in self.entries:
            self.hello_ignored.update(e.get("hello_ignore_fields", []))
        self.used = collections.Counter()

    def skip(self, cmd, in_multi):
        """True if an entry says this command is not sent (at all, or within
        MULTI)."""
        for e in self.entries:
            if not (e.get("skip") or (in_multi and e.get("skip_in_multi"))):
                continue
            if e["command"] == cmd.name() and e["_args"].fullmatch(cmd.args_text()):
                self.used[e["id"]] += 1
                return True
        return False

    def match(self, cmd, redis_raw, ckv_raw, condition=None):
        """The entry tolerating this difference, or None. An entry with
        "when" also needs condition(name, cmd) to hold."""
        r = redis_raw.decode("latin-1") if isinstance(redis_raw, bytes) else str(redis_raw)
        c = ckv_raw.decode("latin-1") if isinstance(ckv_raw, bytes) else str(ckv_raw)
        for e in self.entries:
            if e.get("skip") or "hello_ignore_fields" in e:  # skip_in_multi: matched outside
                continue
            if (e["command"] == cmd.name() and e["_args"].fullmatch(cmd.args_text())
                    and e["_redis"].fullmatch(r) and e["_causalkv"].fullmatch(c)
                    and ("when" not in e or (condition is not None and condition(e["when"], cmd)))):
                return e
        return None


def hello_fields(raw):
    """HELLO's reply as (type byte, [(field, raw value)...]) or None."""
    try:
        node, _ = parse_typed(raw, 0)
    except (ValueError, IndexError):
        return None
    t, v = node
    if t == b"%":
        pairs = v
    elif t == b"*" and len(v) % 2 == 0:
        pairs = [(v[i], v[i + 1]) for i in range(0, len(v), 2)]
    else:
        return None
    return t, [(k[1], val) for k, val in pairs]


# --------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------

class Mismatch(Exception):
    pass


class Side:
    """One server's connections: conns[0] is client 1, conns[1] client 2."""

    def __init__(self, conns):
        self.conns = conns


class DifferentialTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.oracle = harness.start_redis_oracle()
        try:
            cls.server = harness.start_server()
        except BaseException:
            cls.oracle.stop()
            raise
        cls.known = Known(KNOWN_PATH)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.oracle.stop()

    # ---- comparison ---------------------------------------------------------

    def equal(self, cmd, o, s, queued):
        """Whether two raw replies to `cmd` agree (after the normalizations
        the module docstring lists). `queued` is the list of commands an
        EXEC runs. Returns (ok, known entry or None)."""
        if o == s:
            return True, None
        if isinstance(o, bytes) and isinstance(s, bytes):
            if self.normalized_equal(cmd, o, s, queued):
                return True, None
        e = self.known.match(cmd, o, s, self.condition)
        if e is not None:
            return True, e
        return False, None

    def normalized_equal(self, cmd, o, s, queued):
        try:
            if cmd.name() == "EXEC" and queued is not None:
                eo, es = element_spans(o), element_spans(s)
                if eo is None or es is None or len(eo) != len(es) or len(eo) != len(queued) \
                        or o[:1] != s[:1]:
                    return False
                for qc, xo, xs in zip(queued, eo, es):
                    ok, e = self.equal(qc, xo, xs, None)
                    if not ok:
                        return False
                    if e is not None:
                        self.tolerated.append((qc, xo, xs, e))
                return True
            if cmd.norm in (NORM_TTL_S, NORM_TTL_MS):
                if o[:1] != b":" or s[:1] != b":":
                    return False
                a, b = int(o[1:-2]), int(s[1:-2])
                slack = 2 if cmd.norm == NORM_TTL_S else 2000
                return a > 0 and b > 0 and abs(a - b) <= slack
            if cmd.norm == NORM_KEYS:
                eo, es = element_spans(o), element_spans(s)
                return (eo is not None and es is not None and o[:1] == s[:1]
                        and sorted(eo) == sorted(es))
            if cmd.norm == NORM_SCAN:
                eo, es = element_spans(o), element_spans(s)
                if eo is None or es is None or len(eo) != 2 or len(es) != 2 or o[:1] != s[:1]:
                    return False
                po, ps = element_spans(eo[1]), element_spans(es[1])
                return (eo[0] == es[0] and po is not None and ps is not None
                        and eo[1][:1] == es[1][:1] and sorted(po) == sorted(ps))
            if cmd.norm == NORM_RANDOMKEY:
                return o[:1] == s[:1] == b"$" and not o.startswith(b"$-1") \
                    and not s.startswith(b"$-1")
            if cmd.norm == NORM_HELLO:
                ho, hs = hello_fields(o), hello_fields(s)
                if ho is None or hs is None or ho[0] != hs[0]:
                    return False
                ign = self.known.hello_ignored
                fo = [(k, v) for k, v in ho[1] if k.decode("latin-1") not in ign]
                fs = [(k, v) for k, v in hs[1] if k.decode("latin-1") not in ign]
                if [k for k, _ in ho[1]] != [k for k, _ in hs[1]] or fo != fs:
                    return False
                self.used_hello_normalization += 1
                return True
        except (ValueError, IndexError, Incomplete):
            return False
        return False

    def condition(self, name, cmd):
        """The conditions an entry of the known-differences file can name."""
        if name == "watched_missing_key_unchanged":
            # causalkv's WATCH compares a fingerprint (existence, newest
            # version, sibling count, TTL, TTL changes). That can only explain
            # an EXEC that Redis aborted and causalkv ran if every watched key
            # has, on the oracle, the same value and expiry time at EXEC as
            # when it was watched, one of them missing (both EXEC and WATCH
            # end their batch, and the oracle's aborted EXEC ran nothing, so
            # probing after the batch sees those states).
            if not self.exec_is_last or not self.watching:
                return False
            now = self.probe(self.watching)
            snap = self.watch_snapshot[self.current_conn]
            if any(now[k] != snap.get(k) for k in self.watching):
                return False
            return any(v[0] == b"$-1\r\n" for v in now.values())
        raise ValueError("unknown condition %r in %s" % (name, KNOWN_PATH))

    def probe(self, keys):
        """(GET, PEXPIRETIME) of each (db, key) on the oracle."""
        out = {}
        with RawConnection(self.oracle.port) as c:
            for db, key in sorted(keys):
                c.call("SELECT", db)
                out[(db, key)] = (c.call("GET", key), c.call("PEXPIRETIME", key))
        return out

    def track(self, ci, cmd, o, in_multi):
        """Follow the connection's database and watched keys from the
        commands and the oracle's replies (o is None for a reply that
        CLIENT REPLY suppressed)."""
        name = cmd.name()
        ok = o is None or o == b"+OK\r\n"
        if name == "SELECT" and len(cmd.args) == 2 and ok and not in_multi:
            try:
                db = int(cmd.args[1])
            except ValueError:
                return
            if 0 <= db < 16 and cmd.args[1].strip() == cmd.args[1]:
                self.conn_db[ci] = db
        elif name == "RESET" and len(cmd.args) == 1:
            self.conn_db[ci] = 0
            self.watched[ci] = set()
            self.watch_snapshot[ci] = {}
        elif name == "WATCH" and ok and not in_multi and len(cmd.args) > 1:
            self.watched[ci].update((self.conn_db[ci], k) for k in cmd.args[1:])
        elif name == "UNWATCH" and len(cmd.args) == 1 and not in_multi:
            self.watched[ci] = set()
            self.watch_snapshot[ci] = {}
        elif name in ("EXEC", "DISCARD") and len(cmd.args) == 1 and in_multi:
            self.watched[ci] = set()
            self.watch_snapshot[ci] = {}

    # ---- running batches ----------------------------------------------------

    def run_batch(self, pair, conn_index, cmds, quit_at_end, transcript):
        """Send a batch to both servers, read both, compare. Appends to the
        transcript; raises Mismatch on an untolerated difference. Returns
        True if a tolerated difference that "diverges" was seen."""
        self.sentinel += 1
        sentinel = b"diff-sentinel-%d" % self.sentinel
        payload = b"".join(encode_command(*c.args) for c in cmds)
        if not quit_at_end:
            payload += encode_command(b"ECHO", sentinel)
        expect_end = b"$%d\r\n%s\r\n" % (len(sentinel), sentinel)
        # Chunked writes sometimes: the same bytes, split at random points.
        chunks = [payload]
        if len(payload) > 8 and self.rng.random() < 0.1:
            cuts = sorted(self.rng.sample(range(1, len(payload)), min(3, len(payload) - 1)))
            chunks = [payload[i:j] for i, j in zip([0] + cuts, cuts + [len(payload)])]
        replies = []
        for side in (0, 1):
            conn = pair[side].conns[conn_index]
            got = []
            try:
                for ch in chunks:
                    conn.send(ch)
                while True:
                    try:
                        raw = conn.read_reply()
                    except ConnectionError:
                        if quit_at_end:
                            break
                        raise
                    if raw == expect_end:
                        break
                    got.append(raw)
                    if len(got) > 4 * len(cmds) + 10:
                        raise ConnectionError("too many replies")
            except (ConnectionError, TimeoutError, OSError) as e:
                got.append("<%s: %s>" % (type(e).__name__, e))
            replies.append(got)
        ro, rs = replies
        # Pair the replies with the commands that produced them, the way the
        # oracle did: CLIENT REPLY OFF/SKIP suppress replies.
        producing = []
        off, skip = False, False
        for c in cmds:
            name = c.name()
            if name == "CLIENT REPLY" and len(c.args) == 3:
                mode = c.args[2].upper()
                if mode == b"ON":
                    off = skip = False
                    producing.append(c)
                elif mode == b"OFF":
                    off = True
                elif mode == b"SKIP":
                    skip = not off
                else:
                    if not off and not skip:
                        producing.append(c)
                    skip = False
                continue
            if name == "RESET" and len(c.args) == 1:
                # RESET turns replies back on before it answers, but a SKIP
                # before it still swallows its own reply (both servers).
                off = False
            if off:
                continue
            if skip:
                skip = False
                continue
            producing.append(c)
        tolerated_seen = False
        queued, in_multi = [], False
        entries = []  # (command, redis reply, causalkv reply, note)
        failure = False
        pending = list(cmds)  # for track(): commands not yet followed
        for i in range(max(len(ro), len(rs))):
            c = producing[i] if i < len(producing) else Cmd([b"<extra reply>"])
            while pending and pending[0] is not c and c in pending:
                self.track(conn_index, pending.pop(0), None, in_multi)
            o = ro[i] if i < len(ro) else None
            s = rs[i] if i < len(rs) else None
            self.tolerated = []
            self.current_conn = conn_index
            self.exec_is_last = c is producing[-1] and i == len(ro) - 1 if producing else False
            self.watching = set(self.watched[conn_index])
            if o is None or s is None:
                ok, e = False, None
            else:
                ok, e = self.equal(c, o, s, queued if c.name() == "EXEC" and in_multi else None)
            if pending and pending[0] is c:
                self.track(conn_index, pending.pop(0), o, in_multi)
                if c.name() == "EXEC" and len(c.args) == 1 and in_multi and \
                        isinstance(o, bytes) and o[:1] == b"*":
                    # A SELECT that EXEC ran changes the database too.
                    for qc, el in zip(queued, element_spans(o) or []):
                        if qc.name() == "SELECT":
                            self.track(conn_index, qc, el, False)
            # Track the MULTI state from the oracle's replies.
            if c.name() == "MULTI" and o == b"+OK\r\n":
                in_multi, queued = True, []
            elif in_multi and o == b"+QUEUED\r\n":
                queued.append(c)
            elif c.name() in ("EXEC", "DISCARD", "RESET") and len(c.args) == 1 and in_multi:
                in_multi, queued = False, []
            note = ""
            if e is not None:
                self.tolerated.append((c, o, s, e))
            for _, _, _, te in self.tolerated:
                self.known.used[te["id"]] += 1
                tolerated_seen = tolerated_seen or bool(te.get("diverges"))
                note = "  <<< known difference %s (%s)" % (te["id"], te["kind"])
            if not ok and not failure:
                failure = True
                note = "  <<< DIFFERS"
            entries.append((c, o, s, note))
        for c in pending:
            self.track(conn_index, c, None, in_multi)
        if cmds[-1].name() == "WATCH":
            snap = self.watch_snapshot[conn_index]
            new = [k for k in self.watched[conn_index] if k not in snap]
            snap.update(self.probe(new))
        transcript.append((conn_index, cmds, entries))
        self.commands_sent += len(cmds)
        if failure:
            raise Mismatch()
        return tolerated_seen

    def filter_skipped(self, cmds):
        out, in_multi = [], False
        for c in cmds:
            if self.known.skip(c, in_multi):
                # In its place a PING, so that a CLIENT REPLY SKIP before it
                # does not swallow the sentinel's reply instead.
                out.append(Cmd([b"PING"]))
                continue
            name = c.name()
            if name == "MULTI" and len(c.args) == 1:
                in_multi = True
            elif name in ("EXEC", "DISCARD", "RESET") and len(c.args) == 1:
                in_multi = False
            out.append(c)
        return out

    def format_transcript(self, transcript, seed, epoch):
        lines = ["", "=" * 78,
                 "redis-cli transcript of the failing epoch (seed %d, epoch %d); reproduce with"
                 % (seed, epoch),
                 "  DIFF_SEED=%d DIFF_BATCHES=%d CAUSALKV_SERVER=... python3 %s"
                 % (seed, self.batches_run, os.path.basename(__file__)),
                 "or type the commands into `redis-cli -p <port>` (client 1) and a second",
                 "redis-cli (client 2) against both servers; the epoch began with FLUSHALL.",
                 "=" * 78]
        for conn_index, cmds, entries in transcript:
            who = "client%d" % (conn_index + 1)
            if len(cmds) > 1:
                lines.append("# pipelined: %d commands written at once" % len(cmds))
            by_cmd = {id(c): x for x, c in enumerate(e[0] for e in entries)}
            order = [(c, by_cmd.get(id(c))) for c in cmds]
            order += [(e[0], x) for x, e in enumerate(entries) if e[0].args == [b"<extra reply>"]]
            for c, x in order:
                prompt = "%s> %s" % (who, " ".join(cli_quote(a) for a in c.args))
                if x is None:
                    lines.append(prompt + "   (no reply: CLIENT REPLY OFF/SKIP)")
                    continue
                _, o, s, note = entries[x]
                lines.append(prompt)
                ro, rs = render(o), render(s)
                if o == s:
                    lines.append("          " + ro.replace("\n", "\n          "))
                else:
                    lines.append("redis:    " + ro.replace("\n", "\n          "))
                    lines.append("causalkv: " + rs.replace("\n", "\n          ") + note)
                    if "DIFFERS" in note:
                        lines.append("  raw redis:    %r" % (o,))
                        lines.append("  raw causalkv: %r" % (s,))
        return "\n".join(lines)

    def new_epoch(self, old):
        """Fresh connections (two clients per server) and FLUSHALL on both."""
        if old is not None:
            for side in old:
                for c in side.conns:
                    c.close()
        self.conn_db = [0, 0]
        self.watched = [set(), set()]
        self.watch_snapshot = [{}, {}]
        sides = [Side([RawConnection(port), RawConnection(port)])
                 for port in (self.oracle.port, self.server.port)]
        for side in sides:
            reply = side.conns[0].call("FLUSHALL")
            self.assertEqual(reply, b"+OK\r\n", "FLUSHALL on port %d" % side.conns[0].port)
        return sides

    # ---- tests --------------------------------------------------------------

    def test_every_command_is_covered(self):
        """Every command causalkv lists is generated or excluded with a reason."""
        with RawConnection(self.server.port) as c:
            names = [n.decode().lower() for n in harness.decode(c.call("COMMAND", "LIST"))]
        gen = Generator(random.Random(1))
        for _ in range(5000):
            gen.batch()
        missing = [n for n in names if n not in gen.generated and n not in EXCLUDED
                   and not n.startswith(EXCLUDED_PREFIXES)]
        self.assertEqual(missing, [], "commands neither generated nor excluded")

    def test_random_sequences(self):
        seed_env = os.environ.get("DIFF_SEED", "")
        seed = int(seed_env) if seed_env else DEFAULT_SEED
        seconds = float(os.environ.get("DIFF_SECONDS", "0") or 0)
        max_batches = int(os.environ.get("DIFF_BATCHES", "0") or 0) or (
            None if seconds else 15000)
        print("\ndifferential: DIFF_SEED=%d %s" % (
            seed, ("DIFF_SECONDS=%g" % seconds) if seconds else "DIFF_BATCHES=%d" % max_batches),
            file=sys.stderr)
        self.rng = random.Random(seed)
        gen = Generator(random.Random(seed + 1))
        self.sentinel = 0
        self.commands_sent = 0
        self.batches_run = 0
        self.used_hello_normalization = 0
        self.mismatches = 0
        # DIFF_KEEP_GOING=1 (for finding differences, not for CI): print each
        # difference in one line and go on with a new epoch.
        keep_going = os.environ.get("DIFF_KEEP_GOING") == "1"
        epochs = 0
        start = time.monotonic()
        sides = None
        try:
            while True:
                if max_batches is not None and self.batches_run >= max_batches:
                    break
                if seconds and time.monotonic() - start >= seconds:
                    break
                epochs += 1
                sides = self.new_epoch(sides)
                transcript = []
                for _ in range(self.rng.randint(20, 60)):
                    if max_batches is not None and self.batches_run >= max_batches:
                        break
                    cmds, quit_at_end = gen.batch()
                    cmds = self.filter_skipped(cmds)
                    if not cmds:
                        continue
                    conn_index = 1 if self.rng.random() < 0.15 else 0
                    self.batches_run += 1
                    try:
                        tolerated = self.run_batch(sides, conn_index, cmds, quit_at_end,
                                                   transcript)
                    except Mismatch:
                        if not keep_going:
                            self.fail(self.format_transcript(transcript, seed, epochs))
                        self.mismatches += 1
                        for c, o, s, note in transcript[-1][2]:
                            if "DIFFERS" in note:
                                print("DIFF %s\n  redis:    %r\n  causalkv: %r"
                                      % (" ".join(cli_quote(a) for a in c.args), o, s),
                                      file=sys.stderr)
                        break
                    if quit_at_end:
                        # Both servers closed this connection: open new ones.
                        for side in (0, 1):
                            old = sides[side].conns[conn_index]
                            old.close()
                            sides[side].conns[conn_index] = RawConnection(old.port)
                        self.conn_db[conn_index] = 0
                        self.watched[conn_index] = set()
                        self.watch_snapshot[conn_index] = {}
                    if tolerated:
                        break  # the servers' states may differ now: a new epoch
        finally:
            if sides is not None:
                for side in sides:
                    for c in side.conns:
                        c.close()
        elapsed = time.monotonic() - start
        print("differential: %d epochs, %d batches, %d commands in %.1f s; %d command names "
              "generated; tolerated known differences: %s; HELLO normalized %d times"
              % (epochs, self.batches_run, self.commands_sent, elapsed, len(gen.generated),
                 dict(self.known.used) or "none", self.used_hello_normalization),
              file=sys.stderr)
        if self.mismatches:
            self.fail("%d epochs ended in an unknown difference" % self.mismatches)


if __name__ == "__main__":
    harness.main()
