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
  * the hash commands (HASH_COMMANDS) and OBJECT ENCODING, each only once
    causalkv's COMMAND LIST names it (so the test runs green before a
    command lands and covers it from then on), on the same keys as the
    string commands (WRONGTYPE both ways, TYPE, RENAME, MOVE...): odd
    field/value counts, overflowing and non-numeric HINCRBY/HINCRBYFLOAT
    (inf and nan included), every HRANDFIELD count form, HSCAN with MATCH
    and malformed cursors and options, binary and empty fields and values;
  * protocol switches (HELLO 2 / HELLO 3, RESET), SELECT, CLIENT REPLY
    OFF/ON/SKIP, QUIT (and a reconnect);
  * MULTI blocks ending in EXEC or DISCARD, with queued, refused and nested
    commands, WATCH on one connection and writes from a second connection.

The key space is a handful of keys so that commands interact. Every *epoch*
(20 to 60 batches) starts on fresh connections with FLUSHALL on both servers;
a failure prints the epoch so far as a redis-cli transcript (each command with
both replies) that reproduces it. Most epochs keep hashes small (fields and
values of at most 64 bytes, a few dozen fields): listpacks, under Redis's
default hash-max-listpack-entries 512 and -value 64. One in five is "big":
HSETs of 100 to 300 fields, fields and values over 64 bytes, and (when
causalkv knows them) other thresholds set on both servers at the start of
the epoch (HASH_CONFIGS: 128, 4, 0 entries...), so that hashes become
hashtables.

Determinism. Replies that depend on the clock or on hash order are
normalized, nothing else:
  * TTL, PTTL, EXPIRETIME, PEXPIRETIME: positive values within 2 s;
  * KEYS and the page of `SCAN 0 COUNT 1000 ...` compared sorted; the only
    SCAN cursors sent are 0 and malformed ones;
  * RANDOMKEY: any key against any key (nil must match nil);
  * HGETALL, HKEYS, HVALS compared sorted (pairs for HGETALL) only when the
    OBJECT ENCODING sent right after them says "hashtable" on the oracle; a
    listpack's order is insertion order, which causalkv must reproduce;
  * `HSCAN key 0 COUNT 1000 ...` (0, or another spelling of 0, is the only
    valid cursor sent; the others are malformed): the page compared as
    sorted pairs, the cursor exactly;
  * HRANDFIELD: the same reply shape (types, lengths, RESP3 pairs) on both,
    and each server's fields and values checked against its own HGETALL,
    sent right after it (add_follow_ups): as many as the count asks,
    distinct for a positive count. Negative counts stay small (Redis 7.0
    loops |count| times: -2^62 exhausts the oracle's memory).
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
difference in one line and go on, for hunting differences),
CAUSALKV_TEST_SUBJECT=redis-server (a second redis-server in causalkv's
place: every comparison must then pass, which checks the test's own logic;
test_every_command_is_covered is skipped).
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

# The hash commands. Like OBJECT, each is generated only once causalkv's
# COMMAND LIST names it (Generator.supported), so the test stays green while
# a command is missing and covers it from the moment it lands.
HASH_COMMANDS = ("hset", "hsetnx", "hget", "hmget", "hmset", "hgetall", "hdel", "hexists",
                 "hlen", "hkeys", "hvals", "hstrlen", "hincrby", "hincrbyfloat", "hrandfield",
                 "hscan")

FIELDS = [b"f", b"g", b"a", b"n", b"x", b"", b"bin\x00\r\n\xff", b"count", b"1", b"-1",
          b"field:1", b"\xe9", b"*", b"f\x00", b"g1", b"F" * 64]
FIELD_WEIGHTS = [6, 5, 4, 4, 3, 1, 1, 2, 2, 1, 1, 1, 1, 1, 2, 1]
# Fields that only big epochs use: one byte over hash-max-listpack-value.
LONG_FIELDS = [b"F" * 65, b"L" * 200]

# Hash values stay within hash-max-listpack-value (64 bytes) except in big
# epochs (LONG_HASH_VALUES), so that in most epochs every hash is a
# listpack, whose order (insertion order) causalkv must reproduce exactly.
HASH_VALUES = [v for v in VALUES if len(v) <= 64] + [b"y" * 64]
LONG_HASH_VALUES = [b"z" * 65, b"x" * 300, b"w" * 64 + b"\x00"]

HASH_PATTERNS = [b"*", b"f*", b"?", b"g*", b"[a-g]", b"*1", b"", b"[", b"\\*", b"*\x00*",
                 b"F*", b"count"]

# hash-max-listpack-entries / -value for an epoch (Redis's default, 512 and
# 64, most of the time). Sent to both servers at the start of the epoch
# when causalkv knows the parameters.
HASH_CONFIGS = [(b"512", b"64")] * 6 + [(b"128", b"64"), (b"128", b"64"), (b"4", b"64"),
                                         (b"0", b"64"), (b"1", b"8"), (b"16", b"16"),
                                         (b"512", b"0")]

# HRANDFIELD counts. Redis 7.0 loops |count| times for a negative count on
# an existing hash (the oracle runs out of memory on -2^62), so negative
# counts stay small; the huge ones are only those Redis refuses:
# -9223372036854775808 always, +-(2^62) and beyond with WITHVALUES.
HRANDFIELD_COUNTS = [b"0", b"1", b"-1", b"2", b"-2", b"3", b"5", b"-5", b"10", b"-10", b"16",
                     b"100", b"-100", b"150", b"-150", b"300", b"-300", b"1000",
                     b"9223372036854775807", b"4611686018427387903", b"abc", b"1.5", b"",
                     b" 1", b"+2", b"-0", b"-9223372036854775808", b"9223372036854775808"]
HRANDFIELD_COUNTS_WITHVALUES_ONLY = [b"-9223372036854775807", b"-4611686018427387904",
                                     b"4611686018427387904"]

NORM_NONE, NORM_TTL_S, NORM_TTL_MS, NORM_KEYS, NORM_SCAN, NORM_RANDOMKEY, NORM_HELLO, \
    NORM_HASH_ORDER, NORM_HSCAN, NORM_HRANDFIELD = range(10)


NORM_BY_NAME = {"TTL": NORM_TTL_S, "EXPIRETIME": NORM_TTL_S, "PTTL": NORM_TTL_MS,
                "PEXPIRETIME": NORM_TTL_MS, "KEYS": NORM_KEYS, "SCAN": NORM_SCAN,
                "RANDOMKEY": NORM_RANDOMKEY, "HELLO": NORM_HELLO, "HGETALL": NORM_HASH_ORDER,
                "HKEYS": NORM_HASH_ORDER, "HVALS": NORM_HASH_ORDER, "HSCAN": NORM_HSCAN,
                "HRANDFIELD": NORM_HRANDFIELD}


class Cmd:
    __slots__ = ("args", "follow")

    def __init__(self, args, norm=None):
        # `norm` only documents the intent at the call site: the
        # normalization follows from the command's name (see NORM_BY_NAME),
        # whatever the arguments became.
        self.args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        # Commands sent right after this one, which its comparison reads
        # (OBJECT ENCODING after HGETALL, HGETALL after HRANDFIELD): see
        # Generator.add_follow_ups.
        self.follow = []

    @property
    def norm(self):
        return NORM_BY_NAME.get(self.name(), NORM_NONE)

    def name(self):
        """Upper-case command name, with the subcommand for containers."""
        if not self.args:
            return ""
        n = self.args[0].decode("latin-1").upper()
        if n in ("CLIENT", "CONFIG", "COMMAND", "SLOWLOG", "OBJECT") and len(self.args) > 1:
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
    def __init__(self, rng, supported=None, hash_config=False):
        self.r = rng
        self.used_relative = set()
        self.generated = collections.Counter()  # lower-case command name -> count
        # The lower-case command names causalkv lists (COMMAND LIST), or None
        # for every command: the gated generators (hash commands, OBJECT)
        # make only those.
        self.supported = supported
        # Whether causalkv knows hash-max-listpack-entries/-value (CONFIG).
        self.hash_config = hash_config
        self.big = False  # see start_epoch
        self.entries_limit = 512  # the epoch's hash-max-listpack-entries

    def has(self, name):
        return self.supported is None or name in self.supported

    def start_epoch(self):
        """Decides what kind of epoch comes: most keep every hash small (a
        listpack under Redis's thresholds); a "big" one (only when OBJECT
        ENCODING can tell the encoding, see add_follow_ups) also grows
        hashes to hundreds of fields and writes fields and values over 64
        bytes. Returns the (hash-max-listpack-entries,
        hash-max-listpack-value) to set for the epoch, or None."""
        hashes = self.has("hset") and self.has("object")
        self.big = hashes and self.r.random() < 0.2
        config = None
        if hashes and self.hash_config:
            config = self.r.choice(HASH_CONFIGS) if self.big else HASH_CONFIGS[0]
        self.entries_limit = int(config[0]) if config else 512
        return config

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
            args += [b"TYPE", self.r.choice([b"string", b"list", b"STRING", b"nosuchtype",
                                             b"hash", b"HASH"])]
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
        choices = [
            [b"CONFIG", b"GET", b"databases"], [b"CONFIG", b"GET", b"nosuchoption"],
            [b"CONFIG", b"GET"], [b"CONFIG", b"SET", b"nosuchoption", b"1"],
            [b"CONFIG", b"SET", b"databases"], [b"CONFIG", b"RESETSTAT"],
            [b"CONFIG", b"NOSUCH"], [b"CONFIG"], [b"CONFIG", b"RESETSTAT", b"x"]]
        if self.hash_config:
            # Reads only (and refused writes): the epoch's values stay set.
            choices += [[b"CONFIG", b"GET", b"hash-max-listpack-entries"],
                        [b"CONFIG", b"GET", b"hash-max-listpack-value"],
                        [b"CONFIG", b"GET", b"hash-max-ziplist-entries"],
                        [b"CONFIG", b"SET", b"hash-max-listpack-entries", b"-1"],
                        [b"CONFIG", b"SET", b"hash-max-listpack-value", b"abc"]]
        return Cmd(self.r.choice(choices))

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

    # ---- hashes ------------------------------------------------------------

    def field(self):
        c = self.r.random()
        if c < 0.08:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 10)))
        if self.big and c < 0.12:
            return self.r.choice(LONG_FIELDS)
        return self.r.choices(FIELDS, FIELD_WEIGHTS)[0]

    def hvalue(self):
        c = self.r.random()
        if self.big and c < 0.06:
            return self.r.choice(LONG_HASH_VALUES)
        if c < 0.16:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 12)))
        if c < 0.3:
            return self.r.choice([self.integer, self.float_])()
        return self.r.choice(HASH_VALUES)

    def cmd_hset(self, name):
        """HSET or HMSET: a few pairs, a growth to hundreds of fields (big
        epochs), or a malformed argument list."""
        args = [name, self.key()]
        c = self.r.random()
        if self.big and c < 0.2:
            # g0..gN: repeated growths of a key overlap. Values stay small,
            # so that the entry count alone decides the encoding.
            start, n = self.r.randint(0, 50), self.r.randint(100, 300)
            for i in range(start, start + n):
                args += [b"g%d" % i, self.r.choice([b"v%d" % i, b"1", b"", b"y" * 64])]
            return Cmd(args)
        pairs = [(self.field(), self.hvalue())
                 for _ in range(self.r.choice([1, 1, 1, 2, 2, 3, 4]))]
        if len(pairs) > self.entries_limit:
            # Redis 7.2, which causalkv follows, makes a hashtable at once of
            # a listpack that an HSET gives more pairs than
            # hash-max-listpack-entries, whatever the repeats
            # (redis/redis#12019); the 7.0 oracle counts the fields. Fields
            # repeat only where both give the same encoding.
            first = {}
            for f, v in pairs:
                first.setdefault(f, v)
            pairs = list(first.items())
        for f, v in pairs:
            args += [f, v]
        if c < 0.3:  # odd field/value counts, or no pair at all
            args = args[:self.r.choice([2, 3, len(args) - 1])]
        return Cmd(args)

    def cmd_hrandfield(self):
        """HRANDFIELD with every count form; never a negative count that
        makes Redis loop for long (see HRANDFIELD_COUNTS). Not damaged by
        one(): dropping WITHVALUES could turn a refused count into a loop."""
        args = [b"HRANDFIELD", self.key()]
        if self.r.random() < 0.2:
            return Cmd(args + ([] if self.r.random() < 0.9 else [b"WITHVALUES"]))
        withvalues = self.r.random() < 0.5
        if self.r.random() < 0.6:
            count = str(self.r.randint(-12, 12)).encode()
        else:
            count = self.r.choice(HRANDFIELD_COUNTS + (HRANDFIELD_COUNTS_WITHVALUES_ONLY
                                                       if withvalues else []))
        args.append(count)
        if withvalues:
            args.append(self.r.choice([b"WITHVALUES", b"WITHVALUES", b"withvalues",
                                       b"WithValues"]))
        if self.r.random() < 0.05:  # a syntax error: an unknown or a fourth argument
            args.append(self.r.choice([b"x", b"WITHVALUES", b"COUNT"]))
        return Cmd(args)

    def cmd_hscan(self):
        """HSCAN: cursor 0 with COUNT 1000 (one page holds a whole hash, so
        the reply compares as a set), or a malformed cursor or option. Not
        damaged by one(): dropping COUNT's argument, or COUNT, is done here."""
        args = [b"HSCAN", self.key()]
        c = self.r.random()
        if c < 0.15:
            # (Not -1: Redis 7.0 reads it as 2^64-1, a valid cursor.)
            return Cmd(args + [self.r.choice([b"abc", b"-1x", b"18446744073709551616", b" 0",
                                              b"0x1", b"1.5", b"1 "])] +
                       self.r.choice([[], [b"COUNT", b"1000"], [b"MATCH", b"*"]]))
        if c < 0.2:
            # Other spellings Redis 7.0 reads as cursor 0 (string2ull).
            args += [self.r.choice([b"", b"+0", b"-0", b"00"]), b"COUNT", b"1000"]
        else:
            args += [b"0", b"COUNT", b"1000"]
        if c > 0.9:
            args[4] = self.r.choice([b"0", b"-1", b"x", b"", b"9223372036854775808", b"1.5"])
        if self.r.random() < 0.4:
            args += [self.r.choice([b"MATCH", b"match"]), self.r.choice(HASH_PATTERNS)]
        if self.r.random() < 0.05:
            args += [self.r.choice([b"MATCH", b"COUNT", b"NOVALUES", b"TYPE", b"FOO"])]
        return Cmd(args, NORM_HSCAN)

    def cmd_object(self):
        c = self.r.random()
        if c < 0.85:
            return Cmd([b"OBJECT", self.r.choice([b"ENCODING", b"encoding"]), self.key()])
        return Cmd(self.r.choice([[b"OBJECT"], [b"OBJECT", b"NOSUCH", self.key()],
                                  [b"OBJECT", b"ENCODING"],
                                  [b"OBJECT", b"ENCODING", self.key(), self.key()]]))

    def hash_table(self):
        """(weight, command name, generator) for the gated commands."""
        r = self.r
        k = self.key
        f = self.field
        return [
            (7, "hset", lambda: self.cmd_hset(b"HSET")),
            (2, "hmset", lambda: self.cmd_hset(b"HMSET")),
            (2, "hsetnx", lambda: Cmd([b"HSETNX", k(), f(), self.hvalue()])),
            (5, "hget", lambda: Cmd([b"HGET", k(), f()])),
            (2, "hmget", lambda: Cmd([b"HMGET", k()] + [f() for _ in range(r.randint(1, 4))])),
            (3, "hgetall", lambda: Cmd([b"HGETALL", k()])),
            (3, "hdel", lambda: Cmd([b"HDEL", k()] + [f() for _ in range(r.randint(1, 3))])),
            (2, "hexists", lambda: Cmd([b"HEXISTS", k(), f()])),
            (2, "hlen", lambda: Cmd([b"HLEN", k()])),
            (2, "hkeys", lambda: Cmd([b"HKEYS", k()])),
            (2, "hvals", lambda: Cmd([b"HVALS", k()])),
            (1.5, "hstrlen", lambda: Cmd([b"HSTRLEN", k(), f()])),
            (3, "hincrby", lambda: Cmd([b"HINCRBY", k(), f(), self.integer()])),
            (3, "hincrbyfloat", lambda: Cmd([b"HINCRBYFLOAT", k(), f(), self.float_()])),
            (2, "hrandfield", self.cmd_hrandfield),
            (2, "hscan", self.cmd_hscan),
            (2, "object", self.cmd_object),
        ]

    def add_follow_ups(self, cmd):
        """The commands a comparison needs right after `cmd`, in the same
        batch (so in the same state, on each server):
          * OBJECT ENCODING after HGETALL, HKEYS and HVALS: their order is
            compared exactly unless the oracle says the hash is a hashtable;
          * HGETALL (and its OBJECT ENCODING) after HRANDFIELD: each
            server's random fields are checked against its own hash."""
        name = cmd.name()
        if len(cmd.args) < 2 or not self.has("object"):
            if name == "HRANDFIELD" and len(cmd.args) >= 2:
                cmd.follow = [Cmd([b"HGETALL", cmd.args[1]])]
            return
        if name in ("HGETALL", "HKEYS", "HVALS") and len(cmd.args) == 2:
            cmd.follow = [Cmd([b"OBJECT", b"ENCODING", cmd.args[1]])]
        elif name == "HRANDFIELD":
            cmd.follow = [Cmd([b"HGETALL", cmd.args[1]]),
                          Cmd([b"OBJECT", b"ENCODING", cmd.args[1]])]

    @staticmethod
    def expand(cmd):
        """A command and its follow-ups, as sent."""
        return [cmd] + cmd.follow

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
        table += [(w, g) for w, name, g in self.hash_table() if self.has(name)]
        weights = [w for w, _ in table]
        cmd = r.choices(table, weights)[0][1]()
        # Arity and syntax damage: drop the last argument or add a junk one.
        # Not for commands whose shorter form is excluded (TIME x -> TIME) or
        # would leave a transaction open (MULTI x -> MULTI).
        if cmd.args[0] in (b"SCAN", b"HSCAN", b"HRANDFIELD"):
            pass  # SCAN 0 COUNT 1000 COUNT 1 would page: cmd_scan damages SCAN itself
        elif r.random() < 0.06 and len(cmd.args) > 1 and cmd.args[0] not in NO_POP:
            cmd.args.pop()
        elif r.random() < 0.04:
            cmd.args.append(r.choice([b"x", b"", b"1", b"NX"]))
        self.generated[cmd.args[0].decode("latin-1").lower()] += 1
        self.add_follow_ups(cmd)
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
        ended = False  # a RESET or DISCARD ended the transaction early
        for _ in range(self.r.randint(0, 6)):
            c = self.r.random()
            if c < 0.05:
                out.append(Cmd([b"MULTI"]))
            elif c < 0.1:
                if not ended:  # (see below)
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
                if cmd.name() == "WATCH" and ended:
                    # Out of the transaction, a WATCH would succeed without
                    # ending its batch (see watched_missing_key_unchanged).
                    continue
                ended = ended or (cmd.name() in ("RESET", "DISCARD") and len(cmd.args) == 1)
                out += self.expand(cmd)
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
                out += [Cmd([b"CLIENT", b"REPLY", b"SKIP"])] + self.expand(self.one_no_watch())
            elif c < 0.15:
                self.generated["client"] += 1
                out.append(Cmd([b"CLIENT", b"REPLY", b"OFF"]))
                for _ in range(r.randint(0, 3)):
                    out += self.expand(self.one_no_watch())
                out.append(Cmd([b"CLIENT", b"REPLY", r.choice([b"ON", b"on"])]))
            else:
                out += self.expand(self.one())
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


def flat_spans(raw):
    """For an array, set or map reply, the raw bytes of each element (a
    map's keys and values alternating); else None."""
    if raw and raw[:1] == b"%":
        line_end = raw.index(b"\r\n")
        pos = line_end + 2
        out = []
        for _ in range(2 * int(raw[1:line_end])):
            _, nxt = parse_reply(raw, pos)
            out.append(raw[pos:nxt])
            pos = nxt
        return out
    return element_spans(raw)


def header(raw):
    """A reply's first line (type and length)."""
    return raw[:raw.index(b"\r\n")]


def pairs_of(spans):
    return [(spans[i], spans[i + 1]) for i in range(0, len(spans) - 1, 2)]


def hash_from_reply(raw):
    """HGETALL's reply (RESP2 array or RESP3 map) as {field: value}; None for
    anything else (an error, a reply suppressed)."""
    if not isinstance(raw, bytes) or raw[:1] not in (b"*", b"%"):
        return None
    v = harness.decode(raw)
    if isinstance(v, dict):
        return dict(v)
    if len(v) % 2:
        return None
    return dict(zip(v[0::2], v[1::2]))


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
            cls.server = harness.start_subject()
        except BaseException:
            cls.oracle.stop()
            raise
        cls.known = Known(KNOWN_PATH)
        # What causalkv has: the commands it lists, and whether it knows the
        # hash encoding thresholds (CONFIG GET answers a pair).
        with RawConnection(cls.server.port) as c:
            cls.supported = {n.decode().lower()
                             for n in harness.decode(c.call("COMMAND", "LIST"))}
            reply = harness.decode(c.call("CONFIG", "GET", "hash-max-listpack-entries"))
            cls.hash_config = isinstance(reply, list) and len(reply) == 2

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.oracle.stop()

    # ---- comparison ---------------------------------------------------------

    def equal(self, cmd, o, s, queued, nxt=None):
        """Whether two raw replies to `cmd` agree (after the normalizations
        the module docstring lists). `queued` is the list of commands an
        EXEC runs; `nxt` the next command and its two replies, (command,
        redis reply, causalkv reply), or None. Returns (ok, known entry or
        None)."""
        if o == s:
            return True, None
        if isinstance(o, bytes) and isinstance(s, bytes):
            if self.normalized_equal(cmd, o, s, queued, nxt):
                return True, None
        e = self.known.match(cmd, o, s, self.condition)
        if e is not None:
            return True, e
        return False, None

    def normalized_equal(self, cmd, o, s, queued, nxt):
        try:
            if cmd.name() == "EXEC" and queued is not None:
                eo, es = element_spans(o), element_spans(s)
                if eo is None or es is None or len(eo) != len(es) or len(eo) != len(queued) \
                        or o[:1] != s[:1]:
                    return False
                for j, (qc, xo, xs) in enumerate(zip(queued, eo, es)):
                    qn = (queued[j + 1], eo[j + 1], es[j + 1]) if j + 1 < len(queued) else None
                    ok, e = self.equal(qc, xo, xs, None, qn)
                    if not ok:
                        return False
                    if e is not None:
                        self.tolerated.append((qc, xo, xs, e))
                return True
            if cmd.norm == NORM_HASH_ORDER:
                ok = self.hash_order_equal(cmd, o, s, nxt)
                self.hash_normalized["hashtable order"] += ok
                return ok
            if cmd.norm == NORM_HSCAN:
                eo, es = element_spans(o), element_spans(s)
                if eo is None or es is None or len(eo) != 2 or len(es) != 2 or o[:1] != s[:1]:
                    return False
                po, ps = element_spans(eo[1]), element_spans(es[1])
                ok = (eo[0] == es[0] and po is not None and ps is not None
                      and header(eo[1]) == header(es[1])
                      and sorted(pairs_of(po)) == sorted(pairs_of(ps)))
                self.hash_normalized["HSCAN order"] += ok
                return ok
            if cmd.norm == NORM_HRANDFIELD:
                ok = self.hrandfield_equal(cmd, o, s, nxt)
                self.hash_normalized["HRANDFIELD"] += ok
                return ok
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

    def hash_order_equal(self, cmd, o, s, nxt):
        """HGETALL, HKEYS, HVALS: the same elements in any order, but only
        when the OBJECT ENCODING that follows (add_follow_ups) has the
        oracle saying "hashtable". A listpack's order is insertion order,
        which causalkv must reproduce byte for byte."""
        if nxt is None or len(cmd.args) != 2:
            return False
        ncmd, no, _ = nxt
        if ncmd.name() != "OBJECT ENCODING" or ncmd.args[2:] != cmd.args[1:] or \
                not isinstance(no, bytes) or not no.endswith(b"\r\nhashtable\r\n"):
            return False
        if o[:1] not in (b"*", b"%") or header(o) != header(s):
            return False
        fo, fs = flat_spans(o), flat_spans(s)
        if cmd.name() == "HGETALL":
            return sorted(pairs_of(fo)) == sorted(pairs_of(fs))
        return sorted(fo) == sorted(fs)

    def hrandfield_equal(self, cmd, o, s, nxt):
        """HRANDFIELD: the same reply shape (types, lengths) on both; where
        the HGETALL that follows it (add_follow_ups) is there, each
        server's fields (and values) must be its own hash's, as many as the
        count asks, distinct for a positive count. Errors and nils are
        compared byte for byte (they never get here unless they differ)."""
        if o[:1] != s[:1] or o[:1] not in (b"$", b"*"):
            return False
        hashes = [None, None]
        if nxt is not None and nxt[0].name() == "HGETALL" and nxt[0].args[1:] == cmd.args[1:2]:
            hashes = [hash_from_reply(nxt[1]), hash_from_reply(nxt[2])]
        if hashes[0] is not None and hashes[1] is not None:
            self.hash_normalized["HRANDFIELD checked against HGETALL"] += 1
        if len(cmd.args) == 2:  # one field, a bulk string
            for raw, h in zip((o, s), hashes):
                v = harness.decode(raw)
                if not isinstance(v, bytes) or (h is not None and v not in h):
                    return False
            return True
        if header(o) != header(s):
            return False
        count = int(cmd.args[2])
        withvalues = len(cmd.args) == 4
        shapes = []
        for raw, h in zip((o, s), hashes):
            items = harness.decode(raw)
            shapes.append([type(x).__name__ for x in items])
            if withvalues:
                if items and isinstance(items[0], list):  # RESP3: [field, value] pairs
                    if any(len(p) != 2 for p in items):
                        return False
                    pairs = [tuple(p) for p in items]
                else:
                    if len(items) % 2:
                        return False
                    pairs = list(zip(items[0::2], items[1::2]))
            else:
                pairs = [(f, None) for f in items]
            if h is None:
                continue
            fields = [f for f, _ in pairs]
            want = min(count, len(h)) if count >= 0 else (-count if h else 0)
            if len(fields) != want or any(f not in h for f in fields):
                return False
            if withvalues and any(h[f] != v for f, v in pairs):
                return False
            if count >= 0 and len(set(fields)) != len(fields):
                return False
        return shapes[0] == shapes[1]

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
        """(value, PEXPIRETIME) of each (db, key) on the oracle: the value
        is GET's reply, or HGETALL's for a hash."""
        out = {}
        with RawConnection(self.oracle.port) as c:
            for db, key in sorted(keys):
                c.call("SELECT", db)
                value = c.call("GET", key)
                if value.startswith(b"-WRONGTYPE"):
                    value = c.call("HGETALL", key)
                out[(db, key)] = (value, c.call("PEXPIRETIME", key))
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
            # (A QUIT after the EXEC changes no state: the probe after the
            # batch still sees what EXEC saw.)
            quits = 1 if producing and producing[-1].name() == "QUIT" else 0
            self.exec_is_last = (len(producing) > quits and c is producing[-1 - quits]
                                 and i == len(ro) - 1 - quits)
            self.watching = set(self.watched[conn_index])
            if o is None or s is None:
                ok, e = False, None
            else:
                nxt = None
                if i + 1 < min(len(ro), len(rs), len(producing)):
                    nxt = (producing[i + 1], ro[i + 1], rs[i + 1])
                ok, e = self.equal(c, o, s, queued if c.name() == "EXEC" and in_multi else None,
                                   nxt)
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

    def new_epoch(self, old, hash_config=None):
        """Fresh connections (two clients per server) and FLUSHALL on both;
        `hash_config`: the epoch's (hash-max-listpack-entries,
        hash-max-listpack-value), set on both."""
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
            if hash_config is not None:
                for name, value in zip((b"hash-max-listpack-entries",
                                        b"hash-max-listpack-value"), hash_config):
                    reply = side.conns[0].call("CONFIG", "SET", name, value)
                    self.assertEqual(reply, b"+OK\r\n", "CONFIG SET %s %s on port %d"
                                     % (name.decode(), value.decode(), side.conns[0].port))
        return sides

    # ---- tests --------------------------------------------------------------

    def test_every_command_is_covered(self):
        """Every command causalkv lists is generated or excluded with a reason."""
        if harness.redis_as_subject():
            self.skipTest("redis-server as the subject lists every Redis command")
        names = sorted(self.supported)
        gen = Generator(random.Random(1), self.supported, self.hash_config)
        for i in range(5000):
            if i % 40 == 0:
                gen.start_epoch()
            gen.batch()
        missing = [n for n in names if n not in gen.generated and n not in EXCLUDED
                   and not n.startswith(EXCLUDED_PREFIXES)]
        self.assertEqual(missing, [], "commands neither generated nor excluded")

    def test_hash_generators(self):
        """The gated generators, as if causalkv had every command: each hash
        command and OBJECT is made; big epochs grow hashes past 128 fields
        (which crosses hash-max-listpack-entries in the epochs that
        HASH_CONFIGS lowers it) and write values over 64 bytes; follow-ups
        come right after their command."""
        gen = Generator(random.Random(2), None, True)
        grown, long_values, kinds = 0, 0, collections.Counter()
        for i in range(20000):
            if i % 40 == 0:
                kinds[gen.start_epoch()] += 1
            cmds, _ = gen.batch()
            for j, c in enumerate(cmds):
                if c.name() in ("HSET", "HMSET") and len(c.args) > 2 + 2 * 128:
                    grown += 1
                if c.name() in ("HSET", "HMSET") and any(len(a) > 64 for a in c.args[2:]):
                    long_values += 1
                self.assertEqual(cmds[j + 1:j + 1 + len(c.follow)], c.follow)
        missing = [n for n in HASH_COMMANDS + ("object",) if n not in gen.generated]
        self.assertEqual(missing, [], "hash generators that never ran")
        self.assertGreater(grown, 10)
        self.assertGreater(long_values, 10)
        self.assertGreater(kinds[HASH_CONFIGS[0]], kinds[(b"128", b"64")] * 2)

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
        gen = Generator(random.Random(seed + 1), self.supported, self.hash_config)
        self.sentinel = 0
        self.commands_sent = 0
        self.batches_run = 0
        self.used_hello_normalization = 0
        self.hash_normalized = collections.Counter()
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
                sides = self.new_epoch(sides, gen.start_epoch())
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
              "generated; tolerated known differences: %s; HELLO normalized %d times; "
              "hash replies normalized: %s"
              % (epochs, self.batches_run, self.commands_sent, elapsed, len(gen.generated),
                 dict(self.known.used) or "none", self.used_hello_normalization,
                 dict(self.hash_normalized) or "none"),
              file=sys.stderr)
        if self.mismatches:
            self.fail("%d epochs ended in an unknown difference" % self.mismatches)


if __name__ == "__main__":
    harness.main()
