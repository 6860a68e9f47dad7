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
  * the list and set commands (LIST_COMMANDS, BLOCKING_COMMANDS,
    SET_COMMANDS), COPY and SWAPDB (with DB and SELECT across databases),
    OBJECT ENCODING/FREQ/IDLETIME/REFCOUNT/HELP and CLIENT UNBLOCK, gated the
    same way (a subcommand by probing it at the start): negative and
    overflowing indexes, LPOS RANK/COUNT/MAXLEN, LINSERT around missing
    pivots, LMPOP/BLMPOP/SINTERCARD numkeys errors, intsets and sets of
    strings, stores over missing keys, SMOVE to the same key and across
    types. Blocking commands never wait for long: inside MULTI they never
    block; outside it they come right after an RPUSH to their first key
    (which then has data, or both commands refuse the key's type), or with
    a 10-20 ms timeout (TINY_TIMEOUTS) that ends in the same null reply on
    both (hz is raised to 100 on Redis, which checks timeouts once per
    event loop turn);
  * the bitmap, HyperLogLog, sorted set, geo and SORT commands, gated
    the same way (BITMAP_COMMANDS ... SORT_COMMANDS), with the same kinds
    of arguments; BZPOPMIN, BZPOPMAX and BZMPOP as the blocking list
    commands (a ZADD before them). Never: a bit offset that would make
    both servers allocate 512 MB; SORT ... BY nosort (or a BY pattern
    without *) without STORE, or ALPHA with a BY pattern (ties between BY
    values are then in the input's order, a set's hashtable order);
    GEO... COUNT n ANY with a count smaller than a key;
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
hashtables; lists and sets grow by hundreds of elements too, and
set-max-intset-entries may be lowered (INTSET_CONFIGS). Some epochs run
under maxmemory-policy allkeys-lfu (no maxmemory: nothing is evicted), where
OBJECT FREQ answers and OBJECT IDLETIME refuses. Most epochs favour one
family of commands (hashes, lists, sets, sorted sets or bitmaps: FOCUS), so
that such keys live long enough to grow and be read.

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
    loops |count| times: -2^62 exhausts the oracle's memory);
  * SMEMBERS, SINTER, SUNION, SDIFF and the page of `SSCAN key 0 COUNT
    1000 ...` compared sorted (with the same reply type and length):
    Redis 7.0 has no listpack sets, so its small sets of non-integers are
    hashtables in random order, while causalkv follows 7.2's listpack in
    insertion order;
  * SRANDMEMBER, as HRANDFIELD, against the SMEMBERS sent right after it;
  * SPOP: the same reply shape, distinct members, as many as the count
    asks; the SMEMBERS sent right after it must hold what each server did
    not pop (popped plus left is the same set on both), then a DEL of the
    key (its members now differ between the servers) makes the states
    equal again;
  * OBJECT IDLETIME: within 2 s; OBJECT FREQ: both counters from 0 to 255
    (an LFU counter grows at random, and Redis 7.0 shares the objects of
    small integers). Errors are compared exactly;
  * ZRANDMEMBER, as HRANDFIELD, against the ZRANGE ... WITHSCORES sent
    right after it; the page of `ZSCAN key 0 COUNT 1000` as sorted
    (member, score) pairs;
  * GEORADIUS*, GEOSEARCH: the same elements in any order (results without
    ASC/DESC come in the order of Redis's geohash box scan, and equal
    distances in any order).
The known 7.0-vs-7.2 differences in OBJECT ENCODING (listpack lists and
sets in 7.2) and the string encodings and refcounts that Redis derives from
a value's history (causalkv from its bytes) are tolerated by entries of
differential_known.json that also check TYPE and GET, sent right after the
OBJECT command (add_follow_ups); so are scores written in 7.2's shortest
form (0.1 for 0.10000000000000001: the same numbers, compared as such),
lex ranges over members of different scores (unspecified; the ZRANGE sent
right before them shows the scores), and the HyperLogLog cache that Redis's
PFCOUNT writes into the value and causalkv's does not (a GET right after
PFCOUNT shows it, then a SETRANGE marks the cache stale on both).
No positive TTL shorter than 1000 s is ever set (keys expire only at once,
through zero, negative or past times; SET never gets a past EXAT/PXAT, which
leaves an expired key that DBSIZE counts until active expiry runs), and the relative TTLs used with GT/LT
are unique in a run and 1000 s apart, so that two servers reading their clocks
a few milliseconds apart cannot decide a comparison differently.

Known differences live in differential_known.json, each with its reason; a
difference is tolerated only if an entry there matches it (command, argument
and both replies, by regular expression, and a condition the test checks),
and entries marked "skip" are never sent (or not inside MULTI, or not while
CLIENT REPLY suppresses the reply). After a tolerated difference marked
"diverges" the epoch ends (the servers' states may differ from then on).
Entries of kind "BUG, to fix" are causalkv bugs the test tolerates so that
it can go on finding others: the summary line counts how often each was
seen; remove an entry once its bug is fixed.

Environment: DIFF_SEED (default fixed), DIFF_BATCHES (default 15000, about
15 s on an idle machine, when DIFF_SECONDS is not set), DIFF_SECONDS (run for that long: the
random-seed runs of `make differential`), DIFF_KEEP_GOING=1 (print every
difference in one line and go on, for hunting differences; =2 with each
failing epoch's transcript),
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
    "xinfo": "idle times, and the 7.2 fields (inactive, active-time) the 7.0 oracle lacks; "
             "test_streams.py compares the rest",
    # Messaging and scripting change what a connection receives beyond one
    # reply per command (messages, pushes, a stream of MONITOR lines, a
    # script's own commands): each has its own byte-for-byte suite against
    # redis-server, with several connections.
    "subscribe": "test_pubsub.py", "unsubscribe": "test_pubsub.py",
    "psubscribe": "test_pubsub.py", "punsubscribe": "test_pubsub.py",
    "ssubscribe": "test_pubsub.py", "sunsubscribe": "test_pubsub.py",
    "publish": "test_pubsub.py", "spublish": "test_pubsub.py", "pubsub": "test_pubsub.py",
    "monitor": "test_monitor.py",
    "eval": "test_scripting.py", "eval_ro": "test_scripting.py", "evalsha": "test_scripting.py",
    "evalsha_ro": "test_scripting.py", "script": "test_scripting.py",
    "function": "test_scripting.py", "fcall": "test_scripting.py", "fcall_ro": "test_scripting.py",
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
# Commands whose generator damages them itself (see Generator.one): SCAN
# pages, HRANDFIELD without WITHVALUES may loop, a blocking command's junk
# argument may become its timeout.
NO_DAMAGE = {b"SCAN", b"HSCAN", b"SSCAN", b"ZSCAN", b"HRANDFIELD", b"ZRANDMEMBER", b"BLPOP",
             b"BRPOP", b"BLMOVE", b"BRPOPLPUSH", b"BLMPOP", b"BZPOPMIN", b"BZPOPMAX", b"BZMPOP"}

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

# The list and set commands, COPY, SWAPDB, OBJECT's subcommands and CLIENT
# UNBLOCK: gated like the hash commands (Generator.has), by name for the
# commands and by a probe of the server for the subcommands
# (DifferentialTest.setUpClass).
LIST_COMMANDS = ("lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lindex", "lset",
                 "lrange", "ltrim", "lrem", "linsert", "lpos", "lmove", "rpoplpush", "lmpop")
BLOCKING_COMMANDS = ("blpop", "brpop", "blmove", "brpoplpush", "blmpop")
SET_COMMANDS = ("sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop",
                "srandmember", "smove", "sinter", "sintercard", "sunion", "sdiff", "sinterstore",
                "sunionstore", "sdiffstore", "sscan")
KEYSPACE_COMMANDS = ("copy", "swapdb")
# Subcommands probed on the server under test; "object|encoding" comes with
# "object" itself.
PROBED_SUBCOMMANDS = {
    "object|freq": [b"OBJECT", b"FREQ", b"no-such-key"],
    "object|idletime": [b"OBJECT", b"IDLETIME", b"no-such-key"],
    "object|refcount": [b"OBJECT", b"REFCOUNT", b"no-such-key"],
    "object|help": [b"OBJECT", b"HELP"],
    "client|unblock": [b"CLIENT", b"UNBLOCK", b"999999999"],
}

# Set members: integers (an intset while every member is one), strings
# that look like integers but are not (a listpack in 7.2, a hashtable in
# 7.0), binary and empty ones; big epochs add members over 64 bytes.
INT_MEMBERS = [b"0", b"1", b"2", b"3", b"5", b"-1", b"10", b"42", b"100", b"-100", b"65535",
               b"65536", b"-2147483648", b"2147483648", b"9223372036854775807",
               b"-9223372036854775808"]
STR_MEMBERS = [b"a", b"b", b"c", b"m", b"x", b"", b"bin\x00\r\n\xff", b"\xe9", b"*", b"007",
               b"+1", b" 1", b"1.5", b"-0", b"9223372036854775808", b"M" * 64]
LONG_MEMBERS = [b"M" * 65, b"L" * 200]
# List elements: a small pool, so that LREM, LPOS and LINSERT find them.
LIST_VALUES = [b"a", b"b", b"c", b"", b"1", b"-1", b"10", b"v", b"hello", b"bin\x00\r\n\xff",
               b"\xe9", b"9223372036854775807", b"x" * 64]
LONG_LIST_VALUES = [b"x" * 300, b"y" * 5000]
LIST_PATTERNS = [b"*", b"?", b"[a-c]", b"1*", b"*\x00*", b"", b"[", b"\\*", b"M*", b"-*"]

POP_COUNTS = [b"0", b"1", b"2", b"3", b"5", b"10", b"100", b"-1", b"abc", b"", b"1.5", b" 1",
              b"+2", b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808"]
# SRANDMEMBER counts. Redis 7.0 loops |count| times for a negative count
# (see HRANDFIELD_COUNTS): negative counts stay small, except the one Redis
# refuses.
SRANDMEMBER_COUNTS = [b"0", b"1", b"-1", b"2", b"-2", b"3", b"5", b"-5", b"10", b"-10", b"100",
                      b"-100", b"-300", b"1000", b"9223372036854775807", b"abc", b"1.5", b"",
                      b" 1", b"+2", b"-0", b"-9223372036854775808", b"9223372036854775808"]
WHERES = [b"LEFT", b"RIGHT", b"LEFT", b"RIGHT", b"left", b"Right", b"UP", b""]
DBS = [b"0", b"0", b"1", b"1", b"2", b"15", b"16", b"-1", b"abc", b"", b"1.0",
       b"4294967296", b" 1"]

# Blocking commands' timeouts. Outside MULTI a command blocks when its keys
# are empty: there it gets TINY_TIMEOUTS (at least 1 ms even after Redis
# 7.0's truncation to whole milliseconds; 7.0 blocks for ever on 0.0001),
# or any of SAFE_TIMEOUTS when an RPUSH to its first key comes right
# before it (so it never blocks), or inside MULTI (where nothing blocks).
# Never 9223372036854775 or the like: Redis 7.0 adds it to the clock
# without an overflow check and blocks for ever (7.2 refuses it).
TINY_TIMEOUTS = [b"0.01", b"0.02", b"0.015"]
SAFE_TIMEOUTS = [b"0", b"1", b"0.5", b"100", b"0.01", b"-1", b"-0", b"-0.5", b"abc", b"",
                 b"0.0001", b"1.5e1", b" 1", b"1 ", b"0x10", b"nan", b"-inf", b"inf", b"+inf",
                 b"1e400", b"9223372036854776", b"99999999999999999999"]

# The commands of the other families (bitmaps, HyperLogLog, sorted sets,
# geo, SORT), gated the same way.
BITMAP_COMMANDS = ("setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro",
                   "lcs", "substr")
HLL_COMMANDS = ("pfadd", "pfcount", "pfmerge")
# Streams, generated only once causalkv lists them. Never `*` IDs (the two
# clocks differ) nor BLOCK (it could hang the oracle); no reply that shows
# an idle time or XINFO (see EXCLUDED).
STREAM_COMMANDS = ("xadd", "xlen", "xrange", "xrevrange", "xdel", "xtrim", "xsetid", "xread",
                   "xreadgroup", "xack", "xpending", "xclaim", "xautoclaim", "xgroup")
ZSET_COMMANDS = ("zadd", "zincrby", "zcard", "zscore", "zmscore", "zrank", "zrevrank", "zcount",
                 "zlexcount", "zrange", "zrangebyscore", "zrevrangebyscore", "zrangebylex",
                 "zrevrangebylex", "zrevrange", "zrangestore", "zrem", "zremrangebyrank",
                 "zremrangebyscore", "zremrangebylex", "zpopmin", "zpopmax", "zmpop", "zunion",
                 "zinter", "zdiff", "zunionstore", "zinterstore", "zdiffstore", "zintercard",
                 "zrandmember", "zscan")
ZSET_BLOCKING_COMMANDS = ("bzpopmin", "bzpopmax", "bzmpop")
GEO_COMMANDS = ("geoadd", "geodist", "geohash", "geopos", "georadius", "georadius_ro",
                "georadiusbymember", "georadiusbymember_ro", "geosearch", "geosearchstore")
SORT_COMMANDS = ("sort", "sort_ro")

BIT_OFFSETS = [b"0", b"1", b"7", b"8", b"15", b"63", b"100", b"1000", b"-1", b"abc", b"",
               b"4294967296", b"1.5", b"0x10"]
BITFIELD_TYPES = [b"u1", b"u8", b"i8", b"u4", b"i5", b"u16", b"i16", b"u63", b"i64", b"u64",
                  b"i0", b"x8", b"U8", b"i65"]
ZSCORES = [b"0", b"1", b"-1", b"2", b"3", b"3.5", b"0.1", b"-0.5", b"1e3", b"100", b"-0",
           b"1.5", b"inf", b"-inf", b"+inf", b"1e308", b"-1e308", b"0.30000000000000004",
           b"9007199254740993", b"nan", b"abc", b"", b" 1", b"0x10", b"1e400"]
ZMEMBERS = [b"a", b"b", b"c", b"m", b"x", b"", b"1", b"2", b"10", b"-1", b"bin\x00\r\n\xff",
            b"\xe9", b"M" * 64, b"aa", b"ab"]
SCORE_BOUNDS = [b"-inf", b"+inf", b"inf", b"0", b"1", b"(1", b"2.5", b"(0", b"-1", b"(-inf",
                b"(+inf", b"3", b"(3", b"100", b"abc", b"(", b"", b"nan", b"(nan", b"1e3"]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(m", b"[x", b"(x", b"[", b"(", b"a", b"[\xe9",
              b"[1", b"(aa", b"", b"[-"]
# ZRANDMEMBER counts: as HRANDFIELD_COUNTS (Redis 7.0 loops |count| times).
ZRANDMEMBER_COUNTS = HRANDFIELD_COUNTS
# Coordinates: mostly valid, a few out of range or malformed.
GEO_UNITS = [b"m", b"km", b"ft", b"mi", b"KM", b"M", b"yards", b""]
GEO_BAD_COORDS = [(b"181", b"0"), (b"0", b"86"), (b"-180.0001", b"10"), (b"abc", b"1"),
                  (b"1", b""), (b"nan", b"0"), (b"inf", b"0")]
SORT_PATTERNS = [b"w_*", b"*", b"h*->f", b"nokey*", b"#", b"*->x", b"a", b"{t}*"]
# Bytes 8 to 15 of a HyperLogLog: the cached cardinality, marked stale.
HLL_STALE_CACHE = b"\x00" * 7 + b"\x80"

# In an epoch that favours a family of commands (Generator.focus): the
# weight of that family's commands, and of the plain (string, keyspace,
# connection) commands.
FOCUS = (5, 0.3)


def family_of(name):
    """"hashes", "lists", "sets", "zsets" (with geo), "bits" (bitmaps and
    HyperLogLog) or None, for a gated command's name."""
    if name in HASH_COMMANDS:
        return "hashes"
    if name in LIST_COMMANDS or name in BLOCKING_COMMANDS:
        return "lists"
    if name in SET_COMMANDS:
        return "sets"
    if name in ZSET_COMMANDS or name in ZSET_BLOCKING_COMMANDS or name in GEO_COMMANDS:
        return "zsets"
    if name in BITMAP_COMMANDS or name in HLL_COMMANDS:
        return "bits"
    if name in STREAM_COMMANDS:
        return "streams"
    return None


# set-max-intset-entries for an epoch (Redis's default most of the time),
# when the server under test knows it.
INTSET_CONFIGS = [b"512"] * 4 + [b"4", b"16", b"0", b"1"]

NORM_NONE, NORM_TTL_S, NORM_TTL_MS, NORM_KEYS, NORM_SCAN, NORM_RANDOMKEY, NORM_HELLO, \
    NORM_HASH_ORDER, NORM_HSCAN, NORM_HRANDFIELD, NORM_SET_ORDER, NORM_SSCAN, NORM_SPOP, \
    NORM_SRANDMEMBER, NORM_IDLETIME, NORM_FREQ, NORM_HEADER, NORM_ZRANDMEMBER, NORM_ZSCAN, \
    NORM_GEO = range(20)


NORM_BY_NAME = {"TTL": NORM_TTL_S, "EXPIRETIME": NORM_TTL_S, "PTTL": NORM_TTL_MS,
                "PEXPIRETIME": NORM_TTL_MS, "KEYS": NORM_KEYS, "SCAN": NORM_SCAN,
                "RANDOMKEY": NORM_RANDOMKEY, "HELLO": NORM_HELLO, "HGETALL": NORM_HASH_ORDER,
                "HKEYS": NORM_HASH_ORDER, "HVALS": NORM_HASH_ORDER, "HSCAN": NORM_HSCAN,
                "HRANDFIELD": NORM_HRANDFIELD, "SMEMBERS": NORM_SET_ORDER,
                "SINTER": NORM_SET_ORDER, "SUNION": NORM_SET_ORDER, "SDIFF": NORM_SET_ORDER,
                "SSCAN": NORM_SSCAN, "SPOP": NORM_SPOP, "SRANDMEMBER": NORM_SRANDMEMBER,
                "OBJECT IDLETIME": NORM_IDLETIME, "OBJECT FREQ": NORM_FREQ,
                "ZRANDMEMBER": NORM_ZRANDMEMBER, "ZSCAN": NORM_ZSCAN, "GEORADIUS": NORM_GEO,
                "GEORADIUS_RO": NORM_GEO, "GEORADIUSBYMEMBER": NORM_GEO,
                "GEORADIUSBYMEMBER_RO": NORM_GEO, "GEOSEARCH": NORM_GEO}


class Cmd:
    __slots__ = ("args", "follow", "pre", "role")

    def __init__(self, args, norm=None, role=None):
        # `norm` only documents the intent at the call site: the
        # normalization follows from the command's name (see NORM_BY_NAME),
        # whatever the arguments became.
        self.args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        # Commands sent right after this one, which its comparison reads
        # (OBJECT ENCODING after HGETALL, HGETALL after HRANDFIELD, TYPE and
        # GET after OBJECT ENCODING): see Generator.add_follow_ups.
        self.follow = []
        # Commands sent right before it (the RPUSH or ZADD that keeps a
        # blocking command from blocking, the ZRANGE before a lex range).
        self.pre = []
        # "after-spop": the SMEMBERS after an SPOP, whose members are each
        # server's own (compared by reply type and length; NORM_SPOP checks
        # the members); "after-self-move": the PTTL after LMOVE k k (a
        # known-differences condition reads it).
        self.role = role

    @property
    def norm(self):
        if self.role == "after-spop":
            return NORM_HEADER
        return NORM_BY_NAME.get(self.name(), NORM_NONE)

    def name(self):
        """Upper-case command name, with the subcommand for containers."""
        if not self.args:
            return ""
        n = self.args[0].decode("latin-1").upper()
        if n in ("CLIENT", "CONFIG", "COMMAND", "SLOWLOG", "OBJECT", "XGROUP") and \
                len(self.args) > 1:
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
    def __init__(self, rng, supported=None, hash_config=False, features=None):
        self.r = rng
        self.used_relative = set()
        self.generated = collections.Counter()  # lower-case command name -> count
        # The lower-case command names causalkv lists (COMMAND LIST), or None
        # for every command: the gated generators (every family but the
        # string, keyspace and connection commands, and COPY, SWAPDB,
        # OBJECT) make only those. `features`: the
        # probed subcommands ("object|freq", "client|unblock"...) and
        # "set-config" / "policy-config" (CONFIG knows set-max-intset-entries
        # / maxmemory-policy); everything when supported is None.
        self.supported = supported
        self.features = set(features or ())
        # Whether causalkv knows hash-max-listpack-entries/-value (CONFIG).
        self.hash_config = hash_config
        self.big = False  # see start_epoch
        self.entries_limit = 512  # the epoch's hash-max-listpack-entries
        self.epoch_settings = []  # see start_epoch
        self.lfu = False  # the epoch runs with maxmemory-policy allkeys-lfu
        self.focus = None  # the family of commands the epoch favours, or None
        # Whether the command being made will run inside MULTI (where a
        # blocking command never blocks): see multi_block.
        self.in_multi = False

    def has(self, name):
        return self.supported is None or name in self.supported or name in self.features

    def start_epoch(self):
        """Decides what kind of epoch comes: most keep every hash small (a
        listpack under Redis's thresholds); a "big" one (only when OBJECT
        ENCODING can tell the encoding, see add_follow_ups) also grows
        hashes to hundreds of fields and writes fields and values over 64
        bytes, and grows lists and sets to hundreds of elements (over
        set-max-intset-entries, which it may lower, and the 7.2 listpack
        limits). Returns the (hash-max-listpack-entries,
        hash-max-listpack-value) to set for the epoch, or None; the other
        settings for the epoch (set-max-intset-entries, maxmemory-policy,
        always set so that no epoch inherits them) go to epoch_settings."""
        hashes = self.has("hset") and self.has("object")
        collections_ = (self.has("sadd") or self.has("rpush")) and self.has("object")
        self.big = (hashes or collections_) and self.r.random() < 0.2
        config = None
        if hashes and self.hash_config:
            config = self.r.choice(HASH_CONFIGS) if self.big else HASH_CONFIGS[0]
        self.entries_limit = int(config[0]) if config else 512
        self.epoch_settings = []
        if self.has("set-config"):
            self.epoch_settings.append((b"set-max-intset-entries",
                                        self.r.choice(INTSET_CONFIGS) if self.big
                                        else INTSET_CONFIGS[0]))
        # Some epochs run under an LFU policy (no maxmemory: nothing is
        # evicted), where OBJECT FREQ answers and OBJECT IDLETIME refuses.
        self.lfu = self.has("policy-config") and self.has("object|freq") and \
            self.r.random() < 0.15
        if self.has("policy-config"):
            self.epoch_settings.append((b"maxmemory-policy",
                                        b"allkeys-lfu" if self.lfu else b"noeviction"))
        # Most epochs mix every type; the others favour one family (FOCUS),
        # so that lists, sets and hashes live long enough to grow and be
        # read (other types still land on the same keys).
        families = [f for f, probe in (("hashes", "hset"), ("lists", "rpush"), ("sets", "sadd"),
                                       ("zsets", "zadd"), ("bits", "setbit"),
                                       ("streams", "xadd"))
                    if self.has(probe)]
        self.focus = None
        if families and self.r.random() < 0.7:
            self.focus = self.r.choice(families)
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
                                             b"hash", b"HASH", b"set", b"SET", b"zset"])]
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

    def cmd_client_unblock(self):
        """CLIENT UNBLOCK: nobody is ever blocked when it runs (batches run
        one at a time), so a valid id gives 0 (client ids differ between
        the servers, and are never compared)."""
        r = self.r
        args = [b"CLIENT", r.choice([b"UNBLOCK", b"UNBLOCK", b"unblock"])]
        args.append(r.choice([b"1", b"2", b"3", b"999999", b"0", b"-1", b"abc", b"",
                              b"9223372036854775807", b"9223372036854775808", b"1.5", b" 1"]))
        c = r.random()
        if c < 0.4:
            args.append(r.choice([b"TIMEOUT", b"ERROR", b"timeout", b"error", b"Error"]))
        elif c < 0.5:
            args.append(r.choice([b"FOO", b"", b"TIMEOUTX"]))
        elif c < 0.55:
            args += [b"TIMEOUT", b"x"]
        elif c < 0.6:
            args = args[:2]
        return Cmd(args)

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
        r = self.r
        subs = [(55, [b"ENCODING", b"encoding"], True),
                (8, [b"FREQ", b"freq"], self.has("object|freq")),
                (8, [b"IDLETIME", b"idletime"], self.has("object|idletime")),
                (8, [b"REFCOUNT", b"refcount"], self.has("object|refcount"))]
        subs = [s for s in subs if s[2]]
        c = r.random()
        if c < 0.85:
            names = r.choices([s[1] for s in subs], [s[0] for s in subs])[0]
            return Cmd([b"OBJECT", r.choice(names), self.key()])
        if c < 0.88 and self.has("object|help"):
            return Cmd([b"OBJECT", r.choice([b"HELP", b"help"])] +
                       r.choice([[], [], [b"x"]]))
        sub = r.choice([s[1][0] for s in subs])
        return Cmd(r.choice([[b"OBJECT"], [b"OBJECT", b"NOSUCH", self.key()],
                             [b"OBJECT", sub], [b"OBJECT", sub, self.key(), self.key()],
                             [b"OBJECT", b"", self.key()]]))

    # ---- lists ---------------------------------------------------------------

    def lvalue(self):
        c = self.r.random()
        if c < 0.08:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 10)))
        if self.big and c < 0.12:
            return self.r.choice(LONG_LIST_VALUES)
        return self.r.choice(LIST_VALUES)

    def index(self, lo=-8, hi=8):
        if self.r.random() < 0.75:
            return str(self.r.randint(lo, hi)).encode()
        return self.r.choice(INTS)

    def cmd_push(self, name):
        """LPUSH RPUSH LPUSHX RPUSHX: a few elements; in big epochs, a
        growth by hundreds (to a quicklist in Redis 7.2 too) or long
        elements."""
        r = self.r
        args = [name, self.key()]
        if self.big and r.random() < 0.2:
            start, n = r.randint(0, 50), r.randint(100, 300)
            return Cmd(args + [b"e%d" % i for i in range(start, start + n)])
        return Cmd(args + [self.lvalue() for _ in range(r.choice([1, 1, 1, 2, 2, 3, 5]))])

    def cmd_pop(self, name):
        args = [name, self.key()]
        if self.r.random() < 0.5:
            args.append(self.r.choice(POP_COUNTS) if self.r.random() < 0.5
                        else str(self.r.randint(0, 4)).encode())
        return Cmd(args)

    def cmd_lpos(self):
        r = self.r
        args = [b"LPOS", self.key(), self.lvalue()]
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            opt = r.choice([b"RANK", b"COUNT", b"MAXLEN", b"rank", b"count", b"maxlen"])
            u = opt.upper()
            if r.random() < 0.75:
                v = str(r.randint(-3, 3) if u == b"RANK" else r.randint(0, 4)).encode()
            else:
                v = r.choice([b"-1", b"0", b"abc", b"", b"1.5", b"9223372036854775807",
                              b"-9223372036854775807", b"-9223372036854775808",
                              b"9223372036854775808", b"100"])
            args += [opt, v]
        if r.random() < 0.05:
            args.append(r.choice([b"RANK", b"COUNT", b"FOO", b"MAXLEN"]))
        return Cmd(args)

    def cmd_linsert(self):
        r = self.r
        where = r.choice([b"BEFORE", b"AFTER", b"BEFORE", b"AFTER", b"before", b"after",
                          b"MIDDLE", b""])
        return Cmd([b"LINSERT", self.key(), where, self.lvalue(), self.lvalue()])

    def mpop_tail(self):
        """numkeys, keys, LEFT|RIGHT [COUNT n] for LMPOP and BLMPOP."""
        r = self.r
        keys = self.keys(1, 3)
        if r.random() < 0.85:
            numkeys = str(len(keys)).encode()
        else:
            numkeys = r.choice([b"0", b"-1", b"abc", b"", str(len(keys) + 1).encode(),
                                str(len(keys) - 1).encode(), b"9223372036854775807",
                                b"2147483648", b"1.5"])
        args = [numkeys] + keys + [r.choice(WHERES)]
        c = r.random()
        if c < 0.4:
            args += [r.choice([b"COUNT", b"count"]),
                     r.choice([b"1", b"2", b"3", b"5", b"10", b"100", b"0", b"-1", b"abc", b"",
                               b"9223372036854775807", b"1.5"])]
        elif c < 0.45:
            args += r.choice([[b"COUNT"], [b"COUNT", b"1", b"COUNT", b"2"], [b"FOO", b"1"],
                              [b"LEFT"]])
        return args

    def cmd_blocking(self, name):
        """A blocking command that never waits for long: inside MULTI (where
        it never blocks) any timeout; outside, either an RPUSH to its first
        key right before it (the key then has data, or the RPUSH and the
        command both refuse the key's type) with any timeout, or a tiny
        timeout (TINY_TIMEOUTS), which ends in the same null reply on both.
        Not damaged by one(): a junk argument could become the timeout."""
        r = self.r
        mode = "multi" if self.in_multi else ("pushed" if r.random() < 0.75 else "tiny")
        timeout = r.choice(TINY_TIMEOUTS) if mode == "tiny" else r.choice(SAFE_TIMEOUTS)
        if name in (b"BLPOP", b"BRPOP"):
            keys = self.keys(1, 3)
            args = [name] + keys + [timeout]
            first = keys[0]
        elif name == b"BLMOVE":
            first = self.key()
            args = [name, first, self.key(), r.choice(WHERES), r.choice(WHERES), timeout]
        elif name == b"BRPOPLPUSH":
            first = self.key()
            args = [name, first, self.key(), timeout]
        else:  # BLMPOP
            tail = self.mpop_tail()
            args = [name, timeout] + tail
            first = tail[1]
        if mode != "tiny" and r.random() < 0.04:
            args.pop()  # arity errors (or a key read as the timeout)
        cmd = Cmd(args)
        if mode == "pushed":
            cmd.pre = [Cmd([b"RPUSH", first, self.lvalue()])]
        return cmd

    # ---- sets ----------------------------------------------------------------

    def member(self, ints=False):
        c = self.r.random()
        if ints or c < 0.45:
            if self.r.random() < 0.3:
                return str(self.r.randint(-20, 20)).encode()
            return self.r.choice(INT_MEMBERS)
        if c < 0.52:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 10)))
        if self.big and c < 0.56:
            return self.r.choice(LONG_MEMBERS)
        return self.r.choice(STR_MEMBERS)

    def cmd_sadd(self):
        """SADD: a few members (all integers half of the time: intsets); in
        big epochs a growth by hundreds of integers or strings (past
        set-max-intset-entries and the 7.2 listpack's 128)."""
        r = self.r
        args = [b"SADD", self.key()]
        if self.big and r.random() < 0.25:
            start, n = r.randint(0, 100), r.randint(100, 600)
            if r.random() < 0.6:
                return Cmd(args + [b"%d" % i for i in range(start, start + n)])
            return Cmd(args + [b"s%d" % i for i in range(start, start + n)])
        ints = r.random() < 0.5
        return Cmd(args + [self.member(ints) for _ in range(r.choice([1, 1, 1, 2, 2, 3, 5]))])

    def cmd_spop(self):
        args = [b"SPOP", self.key()]
        if self.r.random() < 0.6:
            args.append(self.r.choice(POP_COUNTS) if self.r.random() < 0.4
                        else str(self.r.randint(0, 6)).encode())
        return Cmd(args, NORM_SPOP)

    def cmd_srandmember(self):
        args = [b"SRANDMEMBER", self.key()]
        if self.r.random() < 0.8:
            args.append(self.r.choice(SRANDMEMBER_COUNTS) if self.r.random() < 0.4
                        else str(self.r.randint(-8, 8)).encode())
        return Cmd(args, NORM_SRANDMEMBER)

    def cmd_sintercard(self):
        r = self.r
        keys = self.keys(1, 3)
        if r.random() < 0.85:
            numkeys = str(len(keys)).encode()
        else:
            numkeys = r.choice([b"0", b"-1", b"abc", b"", str(len(keys) + 1).encode(),
                                str(len(keys) - 1).encode(), b"9223372036854775807"])
        args = [b"SINTERCARD", numkeys] + keys
        c = r.random()
        if c < 0.4:
            args += [r.choice([b"LIMIT", b"limit"]),
                     r.choice([b"0", b"1", b"2", b"3", b"10", b"-1", b"abc", b"",
                               b"9223372036854775807", b"1.5"])]
        elif c < 0.45:
            args += r.choice([[b"LIMIT"], [b"FOO", b"1"], [b"LIMIT", b"1", b"LIMIT", b"2"]])
        return Cmd(args)

    def cmd_sscan(self):
        """SSCAN, as HSCAN: cursor 0 with COUNT 1000 (one page holds a whole
        set), or a malformed cursor or option."""
        r = self.r
        args = [b"SSCAN", self.key()]
        c = r.random()
        if c < 0.15:
            return Cmd(args + [r.choice([b"abc", b"-1x", b"18446744073709551616", b" 0",
                                         b"0x1", b"1.5", b"1 "])] +
                       r.choice([[], [b"COUNT", b"1000"], [b"MATCH", b"*"]]))
        if c < 0.2:
            args += [r.choice([b"", b"+0", b"-0", b"00"]), b"COUNT", b"1000"]
        else:
            args += [b"0", b"COUNT", b"1000"]
        if c > 0.9:
            args[4] = r.choice([b"0", b"-1", b"x", b"", b"9223372036854775808", b"1.5"])
        if r.random() < 0.4:
            args += [r.choice([b"MATCH", b"match"]), r.choice(LIST_PATTERNS)]
        if r.random() < 0.05:
            args += [r.choice([b"MATCH", b"COUNT", b"NOVALUES", b"TYPE", b"FOO"])]
        return Cmd(args, NORM_SSCAN)

    # ---- keyspace ------------------------------------------------------------

    def cmd_copy(self):
        r = self.r
        args = [b"COPY", self.key(), self.key()]
        c = r.random()
        if c < 0.25:
            args.append(r.choice([b"REPLACE", b"replace"]))
        elif c < 0.55:
            args += [r.choice([b"DB", b"db"]), r.choice(DBS)]
        elif c < 0.75:
            opts = [[b"REPLACE"], [b"DB", r.choice(DBS)]]
            r.shuffle(opts)
            args += opts[0] + opts[1]
        elif c < 0.82:
            args += r.choice([[b"FOO"], [b"DB"], [b"DB", b"1", b"DB", b"2"],
                              [b"REPLACE", b"REPLACE"], [b"DB", b"1", b"x"]])
        return Cmd(args)

    def cmd_swapdb(self):
        r = self.r
        if r.random() < 0.85:
            a, b = (r.choice([b"0", b"0", b"1", b"2", b"15"]) for _ in range(2))
        else:
            a, b = (r.choice(DBS) for _ in range(2))
        return Cmd([b"SWAPDB", a, b])

    # ---- bitmaps and HyperLogLog ----------------------------------------------

    def bit_offset(self):
        if self.r.random() < 0.7:
            return str(self.r.randint(0, 120)).encode()
        return self.r.choice(BIT_OFFSETS)

    def range_args(self, unit_words=(b"BYTE", b"BIT", b"byte", b"bit", b"WORD")):
        """[start end [BYTE|BIT]] for BITCOUNT; a malformed part sometimes."""
        r = self.r
        c = r.random()
        if c < 0.25:
            return []
        args = [self.index(-20, 20), self.index(-20, 20)]
        if c < 0.3:
            return args[:1]
        if r.random() < 0.4:
            args.append(r.choice(unit_words))
        return args

    def cmd_bitpos(self):
        r = self.r
        args = [b"BITPOS", self.key(), r.choice([b"0", b"1", b"1", b"0", b"2", b"-1", b"abc"])]
        n = r.choice([0, 0, 1, 2, 3, 3])
        parts = [self.index(-20, 20), self.index(-20, 20),
                 r.choice([b"BYTE", b"BIT", b"bit", b"FOO"])]
        return Cmd(args + parts[:n])

    def cmd_bitop(self):
        r = self.r
        op = r.choice([b"AND", b"OR", b"XOR", b"NOT", b"and", b"not", b"NAND", b""])
        srcs = self.keys(1, 3) if op.upper() != b"NOT" or r.random() < 0.2 else [self.key()]
        return Cmd([b"BITOP", op, self.key()] + srcs)

    def cmd_bitfield(self, name):
        """BITFIELD: a few GET/SET/INCRBY/OVERFLOW operations on small offsets
        (a huge one would make both servers allocate 512 MB); BITFIELD_RO
        only GETs (another operation is refused)."""
        r = self.r
        args = [name, self.key()]
        for _ in range(r.choice([0, 1, 1, 2, 3, 4])):
            op = r.choice([b"GET", b"GET", b"SET", b"INCRBY", b"OVERFLOW", b"get", b"FOO"])
            if name == b"BITFIELD_RO" and r.random() < 0.85:
                op = b"GET"
            if op.upper() == b"OVERFLOW":
                args += [op, r.choice([b"WRAP", b"SAT", b"FAIL", b"sat", b"BOGUS"])]
                continue
            t = r.choice(BITFIELD_TYPES) if r.random() < 0.3 else r.choice(BITFIELD_TYPES[:8])
            off = (b"#" + str(r.randint(0, 8)).encode()) if r.random() < 0.2 else \
                str(r.randint(0, 100)).encode() if r.random() < 0.85 else \
                r.choice([b"-1", b"abc", b"4294967296", b"#-1", b"#"])
            args += [op, t, off]
            if op.upper() in (b"SET", b"INCRBY"):
                args.append(self.integer())
        return Cmd(args)

    def cmd_lcs(self):
        r = self.r
        args = [b"LCS", self.key(), self.key()]
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            o = r.choice([b"LEN", b"IDX", b"MINMATCHLEN", b"WITHMATCHLEN", b"idx", b"FOO"])
            args.append(o)
            if o == b"MINMATCHLEN":
                args.append(r.choice([b"0", b"1", b"2", b"4", b"-1", b"abc"]))
        return Cmd(args)

    def cmd_pfadd(self):
        r = self.r
        args = [b"PFADD", self.key()]
        if self.big and r.random() < 0.2:
            start = r.randint(0, 1000)
            return Cmd(args + [b"p%d" % i for i in range(start, start + r.randint(100, 2000))])
        return Cmd(args + [self.member() for _ in range(r.choice([0, 1, 1, 2, 3, 5]))])

    def bits_table(self):
        r = self.r
        k = self.key
        return [
            (3, "setbit", lambda: Cmd([b"SETBIT", k(), self.bit_offset(),
                                       r.choice([b"1", b"0", b"1", b"2", b"-1", b"abc", b""])])),
            (2, "getbit", lambda: Cmd([b"GETBIT", k(), self.bit_offset()])),
            (2, "bitcount", lambda: Cmd([b"BITCOUNT", k()] + self.range_args())),
            (2, "bitpos", self.cmd_bitpos),
            (1.5, "bitop", self.cmd_bitop),
            (2, "bitfield", lambda: self.cmd_bitfield(b"BITFIELD")),
            (1, "bitfield_ro", lambda: self.cmd_bitfield(b"BITFIELD_RO")),
            (1, "lcs", self.cmd_lcs),
            (1, "substr", lambda: Cmd([b"SUBSTR", k(), self.integer(), self.integer()])),
            (3, "pfadd", self.cmd_pfadd),
            (2, "pfcount", lambda: Cmd([b"PFCOUNT"] + self.keys(1, 3))),
            (1.5, "pfmerge", lambda: Cmd([b"PFMERGE", k()] + self.keys(0, 3))),
        ]

    # ---- sorted sets and geo ---------------------------------------------------

    def zscore(self):
        if self.r.random() < 0.5:
            return str(self.r.randint(-5, 5)).encode()
        return self.r.choice(ZSCORES)

    def zmember(self):
        c = self.r.random()
        if c < 0.06:
            return bytes(self.r.randrange(256) for _ in range(self.r.randint(0, 8)))
        if self.big and c < 0.1:
            return self.r.choice(LONG_MEMBERS)
        return self.r.choice(ZMEMBERS)

    def cmd_zadd(self):
        r = self.r
        args = [b"ZADD", self.key()]
        if self.big and r.random() < 0.2:
            start, n = r.randint(0, 50), r.randint(100, 300)
            for i in range(start, start + n):
                args += [str(i % 37).encode(), b"z%d" % i]
            return Cmd(args)
        for _ in range(r.choice([0, 0, 0, 1, 1, 2])):
            args.append(r.choice([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR", b"nx", b"ch"]))
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            args += [self.zscore(), self.zmember()]
        if r.random() < 0.05:
            args.pop()
        return Cmd(args)

    def numkeys_tail(self, lo=1, hi=3):
        """numkeys and keys, numkeys sometimes wrong."""
        r = self.r
        keys = self.keys(lo, hi)
        if r.random() < 0.88:
            return [str(len(keys)).encode()] + keys
        return [r.choice([b"0", b"-1", b"abc", b"", str(len(keys) + 1).encode(),
                          b"9223372036854775807"])] + keys

    def cmd_zrange(self):
        r = self.r
        mode = r.choice([None, None, b"BYSCORE", b"BYLEX"])
        if mode == b"BYSCORE":
            bounds = [r.choice(SCORE_BOUNDS), r.choice(SCORE_BOUNDS)]
        elif mode == b"BYLEX":
            bounds = [r.choice(LEX_BOUNDS), r.choice(LEX_BOUNDS)]
        else:
            bounds = [self.index(-6, 6), self.index(-6, 6)]
        args = [b"ZRANGE", self.key()] + bounds + ([mode] if mode else [])
        if r.random() < 0.3:
            args.append(b"REV")
        if r.random() < 0.25:
            args += [b"LIMIT", self.index(-1, 3), self.index(-1, 4)]
        if r.random() < 0.4:
            args.append(r.choice([b"WITHSCORES", b"withscores"]))
        if r.random() < 0.04:
            args.append(r.choice([b"BYSCORE", b"FOO", b"LIMIT"]))
        return self.lex_pre(Cmd(args))

    def cmd_zrangeby(self, name):
        r = self.r
        lex = b"LEX" in name
        pool = LEX_BOUNDS if lex else SCORE_BOUNDS
        args = [name, self.key(), r.choice(pool), r.choice(pool)]
        if not lex and r.random() < 0.4:
            args.append(b"WITHSCORES")
        if r.random() < 0.3:
            args += [b"LIMIT", self.index(-1, 3), self.index(-1, 4)]
        return self.lex_pre(Cmd(args))

    @staticmethod
    def lex_pre(cmd):
        """A lex-range command (ZRANGEBYLEX, ZLEXCOUNT, ZREMRANGEBYLEX, ZRANGE
        or ZRANGESTORE ... BYLEX) gets the ZRANGE ... WITHSCORES of its key
        right before it: Redis leaves lex ranges over members of different
        scores unspecified (its answer depends on shortcuts of its
        algorithm), and the known-differences entries for that read it."""
        name = cmd.args[0].upper()
        lex = b"LEX" in name or (name in (b"ZRANGE", b"ZRANGESTORE") and
                                 any(a.upper() == b"BYLEX" for a in cmd.args))
        if lex and len(cmd.args) > 2:
            key = cmd.args[2] if name == b"ZRANGESTORE" else cmd.args[1]
            cmd.pre = [Cmd([b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])]
        return cmd

    def cmd_zsetop(self, name):
        """ZUNION ZINTER ZDIFF and their STOREs: numkeys, WEIGHTS, AGGREGATE,
        WITHSCORES (sets count as sorted sets of score 1)."""
        r = self.r
        store = name.endswith(b"STORE")
        args = [name] + ([self.key()] if store else []) + self.numkeys_tail()
        if name not in (b"ZDIFF", b"ZDIFFSTORE") or r.random() < 0.05:
            if r.random() < 0.3:
                n = int(args[2 if store else 1]) if args[2 if store else 1].isdigit() else 1
                args += [b"WEIGHTS"] + [r.choice([b"1", b"2", b"-1", b"0", b"0.5", b"inf",
                                                  b"abc", b"nan"])
                                        for _ in range(max(1, min(n, 3)) + r.choice([0, 0, 1]))]
            if r.random() < 0.3:
                args += [b"AGGREGATE", r.choice([b"SUM", b"MIN", b"MAX", b"max", b"AVG"])]
        if not store and r.random() < 0.4:
            args.append(b"WITHSCORES")
        if r.random() < 0.04:
            args.append(r.choice([b"WEIGHTS", b"AGGREGATE", b"FOO"]))
        return Cmd(args)

    def cmd_zmpop(self, name, timeout=None):
        r = self.r
        tail = self.numkeys_tail()
        args = [name] + ([timeout] if timeout is not None else []) + tail
        args.append(r.choice([b"MIN", b"MAX", b"min", b"max", b"MID", b""]))
        if r.random() < 0.4:
            args += [b"COUNT", r.choice([b"1", b"2", b"5", b"0", b"-1", b"abc"])]
        return Cmd(args), tail[1]

    def cmd_zblocking(self, name):
        """BZPOPMIN BZPOPMAX BZMPOP, as cmd_blocking (a ZADD to the first
        key before it, a tiny timeout, or inside MULTI)."""
        r = self.r
        mode = "multi" if self.in_multi else ("pushed" if r.random() < 0.75 else "tiny")
        timeout = r.choice(TINY_TIMEOUTS) if mode == "tiny" else r.choice(SAFE_TIMEOUTS)
        if name == b"BZMPOP":
            cmd, first = self.cmd_zmpop(name, timeout)
        else:
            keys = self.keys(1, 3)
            cmd, first = Cmd([name] + keys + [timeout]), keys[0]
        if mode == "pushed":
            cmd.pre = [Cmd([b"ZADD", first, self.zscore(), self.zmember()])]
            if cmd.pre[0].args[2] in (b"nan", b"abc", b"", b" 1", b"0x10", b"1e400"):
                cmd.pre[0].args[2] = b"1"
        return cmd

    def cmd_zrandmember(self):
        r = self.r
        args = [b"ZRANDMEMBER", self.key()]
        if r.random() < 0.2:
            return Cmd(args)
        withscores = r.random() < 0.5
        count = str(r.randint(-12, 12)).encode() if r.random() < 0.6 else \
            r.choice(ZRANDMEMBER_COUNTS + (HRANDFIELD_COUNTS_WITHVALUES_ONLY if withscores
                                           else []))
        args.append(count)
        if withscores:
            args.append(r.choice([b"WITHSCORES", b"withscores"]))
        if r.random() < 0.05:
            args.append(r.choice([b"x", b"WITHSCORES"]))
        return Cmd(args)

    def cmd_zscan(self):
        cmd = self.cmd_sscan()
        cmd.args[0] = b"ZSCAN"
        return cmd

    def coords(self):
        r = self.r
        if r.random() < 0.08:
            return list(r.choice(GEO_BAD_COORDS))
        return [("%.6f" % r.uniform(-5, 5)).encode(), ("%.6f" % r.uniform(-5, 5)).encode()]

    def cmd_geoadd(self):
        r = self.r
        args = [b"GEOADD", self.key()]
        for _ in range(r.choice([0, 0, 0, 1, 1])):
            args.append(r.choice([b"NX", b"XX", b"CH", b"nx", b"GT"]))
        for _ in range(r.choice([1, 1, 2, 3])):
            args += self.coords() + [self.zmember()]
        if r.random() < 0.05:
            args.pop()
        return Cmd(args)

    def geo_options(self, store):
        """WITHCOORD/WITHDIST/WITHHASH, COUNT [ANY] (ANY only with a count
        larger than any key, so that which members come does not depend on
        the scan order), ASC/DESC, STORE/STOREDIST."""
        r = self.r
        args = []
        for w in (b"WITHCOORD", b"WITHDIST", b"WITHHASH"):
            if r.random() < 0.3:
                args.append(w)
        if r.random() < 0.3:
            c = r.choice([b"1", b"2", b"5", b"1000", b"0", b"-1", b"abc"])
            args += [b"COUNT", c]
            if c == b"1000" and r.random() < 0.3:
                args.append(b"ANY")
        if r.random() < 0.5:
            args.append(r.choice([b"ASC", b"DESC", b"asc"]))
        if store and r.random() < 0.3:
            args += [r.choice([b"STORE", b"STOREDIST"]), self.key()]
        if r.random() < 0.03:
            args.append(r.choice([b"FOO", b"ANY", b"COUNT"]))
        return args

    def radius(self):
        r = self.r
        if r.random() < 0.85:
            return [str(r.choice([1, 10, 100, 500, 1000])).encode(), r.choice(GEO_UNITS[:5])]
        return [r.choice([b"-1", b"0", b"abc", b"1e400"]), r.choice(GEO_UNITS)]

    def cmd_georadius(self, name):
        store = not name.endswith(b"_RO")
        if b"BYMEMBER" in name:
            center = [self.zmember()]
        else:
            center = self.coords()
        return Cmd([name, self.key()] + center + self.radius() + self.geo_options(store))

    def cmd_geosearch(self, name):
        r = self.r
        args = [name] + ([self.key()] if name == b"GEOSEARCHSTORE" else []) + [self.key()]
        if r.random() < 0.5:
            args += [b"FROMMEMBER", self.zmember()]
        else:
            args += [b"FROMLONLAT"] + self.coords()
        if r.random() < 0.5:
            args += [b"BYRADIUS"] + self.radius()
        else:
            args += [b"BYBOX"] + self.radius()[:1] + self.radius()
        opts = self.geo_options(False)
        if name == b"GEOSEARCHSTORE":
            opts = [o for o in opts if o not in (b"WITHCOORD", b"WITHDIST", b"WITHHASH")]
            if r.random() < 0.3:
                opts.append(b"STOREDIST")
        if r.random() < 0.05:
            rest = args[1:]
            r.shuffle(rest)  # malformed
            args = args[:1] + rest
        return Cmd(args + opts)

    def cmd_sort(self, name):
        """SORT and SORT_RO: BY and GET patterns, LIMIT, ASC/DESC, ALPHA,
        STORE. BY nosort (or a pattern without *) only with STORE (which
        sorts a set anyway): without it a set's order would be its
        hashtable's in Redis 7.0."""
        r = self.r
        args = [name, self.key()]
        store = name == b"SORT" and r.random() < 0.3
        if r.random() < 0.3:
            # (A BY pattern without a * means nosort.)
            by = b"nosort" if store and r.random() < 0.3 else r.choice(SORT_PATTERNS)
            if not store and b"*" not in by:
                by = b"w_*"
            args += [b"BY", by]
        if r.random() < 0.25:
            args += [b"LIMIT", self.index(-1, 3), self.index(-1, 5)]
        for _ in range(r.choice([0, 0, 1, 2])):
            args += [b"GET", r.choice(SORT_PATTERNS)]
        if r.random() < 0.3:
            args.append(r.choice([b"ASC", b"DESC", b"desc"]))
        # Not ALPHA with a BY pattern: Redis breaks ties between equal (or
        # missing) BY values by the element itself only when sorting
        # numerically; alphabetically their order is the input's (a set's
        # hashtable order) and the sort algorithm's.
        if r.random() < 0.4 and not any(a == b"BY" for a in args[2:]) or \
                args[2:4] == [b"BY", b"nosort"]:
            args.append(b"ALPHA")
        if store:
            args += [b"STORE", self.key()]
        if r.random() < 0.04:
            args.append(r.choice([b"BY", b"FOO", b"STORE", b"LIMIT"]))
        return Cmd(args)

    def zset_table(self):
        r = self.r
        k = self.key
        zm = self.zmember
        return [
            (6, "zadd", self.cmd_zadd),
            (2, "zincrby", lambda: Cmd([b"ZINCRBY", k(), self.zscore(), zm()])),
            (1.5, "zcard", lambda: Cmd([b"ZCARD", k()])),
            (2, "zscore", lambda: Cmd([b"ZSCORE", k(), zm()])),
            (1.5, "zmscore", lambda: Cmd([b"ZMSCORE", k()] + [zm() for _ in range(r.randint(1, 3))])),
            (1.5, "zrank", lambda: Cmd([b"ZRANK", k(), zm()])),
            (1.5, "zrevrank", lambda: Cmd([b"ZREVRANK", k(), zm()])),
            (1.5, "zcount", lambda: Cmd([b"ZCOUNT", k(), r.choice(SCORE_BOUNDS),
                                         r.choice(SCORE_BOUNDS)])),
            (1.5, "zlexcount", lambda: self.lex_pre(Cmd([b"ZLEXCOUNT", k(), r.choice(LEX_BOUNDS),
                                                         r.choice(LEX_BOUNDS)]))),
            (4, "zrange", self.cmd_zrange),
            (1.5, "zrangebyscore", lambda: self.cmd_zrangeby(b"ZRANGEBYSCORE")),
            (1, "zrevrangebyscore", lambda: self.cmd_zrangeby(b"ZREVRANGEBYSCORE")),
            (1.5, "zrangebylex", lambda: self.cmd_zrangeby(b"ZRANGEBYLEX")),
            (1, "zrevrangebylex", lambda: self.cmd_zrangeby(b"ZREVRANGEBYLEX")),
            (1, "zrevrange", lambda: Cmd([b"ZREVRANGE", k(), self.index(-6, 6), self.index(-6, 6)]
                                         + r.choice([[], [b"WITHSCORES"]]))),
            (1.5, "zrangestore", lambda: self.lex_pre(
                Cmd([b"ZRANGESTORE", k()] + self.cmd_zrange().args[1:]))),
            (2, "zrem", lambda: Cmd([b"ZREM", k()] + [zm() for _ in range(r.randint(1, 3))])),
            (1, "zremrangebyrank", lambda: Cmd([b"ZREMRANGEBYRANK", k(), self.index(-4, 4),
                                                self.index(-4, 4)])),
            (1, "zremrangebyscore", lambda: Cmd([b"ZREMRANGEBYSCORE", k(), r.choice(SCORE_BOUNDS),
                                                 r.choice(SCORE_BOUNDS)])),
            (1, "zremrangebylex", lambda: self.lex_pre(Cmd([b"ZREMRANGEBYLEX", k(),
                                                            r.choice(LEX_BOUNDS),
                                                            r.choice(LEX_BOUNDS)]))),
            (1.5, "zpopmin", lambda: Cmd([b"ZPOPMIN", k()] + r.choice([[], [self.index(-1, 4)]]))),
            (1.5, "zpopmax", lambda: Cmd([b"ZPOPMAX", k()] + r.choice([[], [self.index(-1, 4)]]))),
            (1.5, "zmpop", lambda: self.cmd_zmpop(b"ZMPOP")[0]),
            (0.8, "bzpopmin", lambda: self.cmd_zblocking(b"BZPOPMIN")),
            (0.8, "bzpopmax", lambda: self.cmd_zblocking(b"BZPOPMAX")),
            (0.8, "bzmpop", lambda: self.cmd_zblocking(b"BZMPOP")),
            (1.5, "zunion", lambda: self.cmd_zsetop(b"ZUNION")),
            (1.5, "zinter", lambda: self.cmd_zsetop(b"ZINTER")),
            (1.5, "zdiff", lambda: self.cmd_zsetop(b"ZDIFF")),
            (1, "zunionstore", lambda: self.cmd_zsetop(b"ZUNIONSTORE")),
            (1, "zinterstore", lambda: self.cmd_zsetop(b"ZINTERSTORE")),
            (1, "zdiffstore", lambda: self.cmd_zsetop(b"ZDIFFSTORE")),
            (1.5, "zintercard", lambda: Cmd([b"ZINTERCARD"] + self.numkeys_tail() + r.choice(
                [[], [], [b"LIMIT", self.index(-1, 3)]]))),
            (2, "zrandmember", self.cmd_zrandmember),
            (2, "zscan", self.cmd_zscan),
            (3, "geoadd", self.cmd_geoadd),
            (1.5, "geodist", lambda: Cmd([b"GEODIST", k(), zm(), zm()] +
                                         r.choice([[], [r.choice(GEO_UNITS)]]))),
            (1, "geohash", lambda: Cmd([b"GEOHASH", k()] + [zm() for _ in range(r.randint(0, 3))])),
            (1, "geopos", lambda: Cmd([b"GEOPOS", k()] + [zm() for _ in range(r.randint(0, 3))])),
            (1, "georadius", lambda: self.cmd_georadius(b"GEORADIUS")),
            (0.7, "georadius_ro", lambda: self.cmd_georadius(b"GEORADIUS_RO")),
            (1, "georadiusbymember", lambda: self.cmd_georadius(b"GEORADIUSBYMEMBER")),
            (0.7, "georadiusbymember_ro", lambda: self.cmd_georadius(b"GEORADIUSBYMEMBER_RO")),
            (1.5, "geosearch", lambda: self.cmd_geosearch(b"GEOSEARCH")),
            (1, "geosearchstore", lambda: self.cmd_geosearch(b"GEOSEARCHSTORE")),
            (2, "sort", lambda: self.cmd_sort(b"SORT")),
            (1, "sort_ro", lambda: self.cmd_sort(b"SORT_RO")),
        ]

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

    def collection_table(self):
        """(weight, command name, generator) for the gated list, set and
        keyspace commands."""
        r = self.r
        k = self.key
        m = self.member
        return [
            (4, "lpush", lambda: self.cmd_push(b"LPUSH")),
            (4, "rpush", lambda: self.cmd_push(b"RPUSH")),
            (1.5, "lpushx", lambda: self.cmd_push(b"LPUSHX")),
            (1.5, "rpushx", lambda: self.cmd_push(b"RPUSHX")),
            (2.5, "lpop", lambda: self.cmd_pop(b"LPOP")),
            (2.5, "rpop", lambda: self.cmd_pop(b"RPOP")),
            (2, "llen", lambda: Cmd([b"LLEN", k()])),
            (2, "lindex", lambda: Cmd([b"LINDEX", k(), self.index()])),
            (2, "lset", lambda: Cmd([b"LSET", k(), self.index(), self.lvalue()])),
            (4, "lrange", lambda: Cmd([b"LRANGE", k()] + (
                [b"0", b"-1"] if r.random() < 0.3 else [self.index(-10, 10),
                                                        self.index(-10, 10)]))),
            (1.5, "ltrim", lambda: Cmd([b"LTRIM", k()] + r.choice([
                [b"0", str(r.randint(1, 20)).encode()], [str(r.randint(-20, -2)).encode(), b"-1"],
                [b"1", b"-1"], [self.index(-10, 10), self.index(-10, 10)]]))),
            (2, "lrem", lambda: Cmd([b"LREM", k(), self.index(-3, 3), self.lvalue()])),
            (2, "linsert", self.cmd_linsert),
            (2.5, "lpos", self.cmd_lpos),
            (2, "lmove", lambda: Cmd([b"LMOVE", k(), k(), r.choice(WHERES), r.choice(WHERES)])),
            (1.5, "rpoplpush", lambda: Cmd([b"RPOPLPUSH", k(), k()])),
            (2, "lmpop", lambda: Cmd([b"LMPOP"] + self.mpop_tail())),
            (1, "blpop", lambda: self.cmd_blocking(b"BLPOP")),
            (1, "brpop", lambda: self.cmd_blocking(b"BRPOP")),
            (1, "blmove", lambda: self.cmd_blocking(b"BLMOVE")),
            (0.7, "brpoplpush", lambda: self.cmd_blocking(b"BRPOPLPUSH")),
            (1, "blmpop", lambda: self.cmd_blocking(b"BLMPOP")),
            (6, "sadd", self.cmd_sadd),
            (2.5, "srem", lambda: Cmd([b"SREM", k()] + [m() for _ in range(r.randint(1, 3))])),
            (3, "smembers", lambda: Cmd([b"SMEMBERS", k()], NORM_SET_ORDER)),
            (2, "sismember", lambda: Cmd([b"SISMEMBER", k(), m()])),
            (2, "smismember", lambda: Cmd([b"SMISMEMBER", k()] +
                                          [m() for _ in range(r.randint(1, 4))])),
            (2, "scard", lambda: Cmd([b"SCARD", k()])),
            (2, "spop", self.cmd_spop),
            (2, "srandmember", self.cmd_srandmember),
            (2, "smove", lambda: Cmd([b"SMOVE", k(), k(), m()])),
            (2, "sinter", lambda: Cmd([b"SINTER"] + self.keys(), NORM_SET_ORDER)),
            (2, "sintercard", self.cmd_sintercard),
            (2, "sunion", lambda: Cmd([b"SUNION"] + self.keys(), NORM_SET_ORDER)),
            (2, "sdiff", lambda: Cmd([b"SDIFF"] + self.keys(), NORM_SET_ORDER)),
            (1.5, "sinterstore", lambda: Cmd([b"SINTERSTORE", k()] + self.keys())),
            (1.5, "sunionstore", lambda: Cmd([b"SUNIONSTORE", k()] + self.keys())),
            (1.5, "sdiffstore", lambda: Cmd([b"SDIFFSTORE", k()] + self.keys())),
            (2, "sscan", self.cmd_sscan),
            (2, "copy", self.cmd_copy),
            (1, "swapdb", self.cmd_swapdb),
            (1, "client|unblock", self.cmd_client_unblock),
        ]

    def stream_id(self, special=True):
        r = self.r
        if special and r.random() < 0.15:
            return r.choice([b"-", b"+", b"0", b"0-0", b"bad", b"1-x", b"(2-1", b"(-",
                             b"18446744073709551615-18446744073709551615", b"3"])
        return b"%d-%d" % (r.randint(0, 6), r.randint(0, 3))

    def stream_fields(self):
        r = self.r
        out = []
        for _ in range(r.choice([1, 1, 2, 3])):
            out += [r.choice([b"f", b"g", b"name"]), r.choice([b"v", b"1", b"", b"abc"])]
        return out

    def stream_trim(self):
        r = self.r
        out = [r.choice([b"MAXLEN", b"MINID", b"maxlen"])]
        out += r.choice([[], [b"="], [b"~"]])
        out.append(self.stream_id(False) if out[0] == b"MINID" and r.random() < 0.7
                   else str(r.randint(-1, 8)).encode())
        if r.random() < 0.2:
            out += [b"LIMIT", str(r.randint(-1, 20)).encode()]
        return out

    def stream_group(self):
        return self.r.choice([b"g", b"g", b"h", b"nog"])

    def stream_consumer(self):
        return self.r.choice([b"alice", b"bob", b"carol"])

    def cmd_xadd(self):
        r = self.r
        args = [b"XADD", self.key()]
        if r.random() < 0.1:
            args.append(b"NOMKSTREAM")
        if r.random() < 0.2:
            args += self.stream_trim()
        if r.random() < 0.2:
            args.append(b"%d-*" % r.randint(0, 7))
        else:
            args.append(self.stream_id(r.random() < 0.1))
        return Cmd(args + self.stream_fields())

    def cmd_xread(self, group):
        r = self.r
        args = [b"XREADGROUP", b"GROUP", self.stream_group(), self.stream_consumer()] \
            if group else [b"XREAD"]
        if r.random() < 0.4:
            args += [b"COUNT", str(r.randint(-1, 4)).encode()]
        if group and r.random() < 0.2:
            args.append(b"NOACK")
        keys = self.keys(1, 2)
        ids = []
        for _ in keys:
            if group:
                ids.append(b">" if r.random() < 0.6 else self.stream_id())
            else:
                ids.append(b"$" if r.random() < 0.15 else self.stream_id())
        return Cmd(args + [b"STREAMS"] + keys + ids)

    def cmd_xpending(self):
        r = self.r
        args = [b"XPENDING", self.key(), self.stream_group()]
        if r.random() < 0.5:
            # Only an IDLE no entry reaches: the reply shows no idle time.
            args += [b"IDLE", b"100000000", self.stream_id(), self.stream_id(),
                     str(r.randint(-1, 5)).encode()]
            if r.random() < 0.3:
                args.append(self.stream_consumer())
        return Cmd(args)

    def cmd_xclaim(self):
        r = self.r
        args = [b"XCLAIM", self.key(), self.stream_group(), self.stream_consumer(),
                r.choice([b"0", b"0", b"100000000", b"x"])]
        args += [self.stream_id(False) for _ in range(r.randint(1, 3))]
        for opt in r.sample([[b"JUSTID"], [b"FORCE"], [b"RETRYCOUNT", b"3"],
                             [b"LASTID", self.stream_id(False)], [b"IDLE", b"10"]],
                            r.randint(0, 2)):
            args += opt
        return Cmd(args)

    def cmd_xautoclaim(self):
        r = self.r
        args = [b"XAUTOCLAIM", self.key(), self.stream_group(), self.stream_consumer(),
                r.choice([b"0", b"100000000"]), self.stream_id()]
        if r.random() < 0.5:
            args += [b"COUNT", str(r.randint(0, 4)).encode()]
        if r.random() < 0.3:
            args.append(b"JUSTID")
        return Cmd(args)

    def stream_table(self):
        """(weight, command name, generator) for the gated stream commands."""
        r = self.r
        k = self.key
        sid = self.stream_id
        grp = self.stream_group
        return [
            (6, "xadd", self.cmd_xadd),
            (2, "xlen", lambda: Cmd([b"XLEN", k()])),
            (3, "xrange", lambda: Cmd([b"XRANGE", k(), sid(), sid()] + (
                [b"COUNT", str(r.randint(-1, 4)).encode()] if r.random() < 0.3 else []))),
            (2, "xrevrange", lambda: Cmd([b"XREVRANGE", k(), sid(), sid()] + (
                [b"COUNT", str(r.randint(-1, 4)).encode()] if r.random() < 0.3 else []))),
            (2, "xdel", lambda: Cmd([b"XDEL", k()] + [sid() for _ in range(r.randint(1, 3))])),
            (1.5, "xtrim", lambda: Cmd([b"XTRIM", k()] + self.stream_trim())),
            (1, "xsetid", lambda: Cmd([b"XSETID", k(), sid()] + r.choice([
                [], [b"ENTRIESADDED", str(r.randint(-1, 20)).encode()],
                [b"MAXDELETEDID", sid(False)]]))),
            (3, "xread", lambda: self.cmd_xread(False)),
            (3, "xreadgroup", lambda: self.cmd_xread(True)),
            (2, "xack", lambda: Cmd([b"XACK", k(), grp()] +
                                    [sid() for _ in range(r.randint(1, 3))])),
            (2, "xpending", self.cmd_xpending),
            (1.5, "xclaim", self.cmd_xclaim),
            (1.5, "xautoclaim", self.cmd_xautoclaim),
            (2, "xgroup", lambda: Cmd([b"XGROUP", b"CREATE", k(), grp(),
                                              r.choice([b"$", b"0", sid()])] +
                                             r.choice([[], [b"MKSTREAM"],
                                                       [b"ENTRIESREAD", b"2"]]))),
            (1, "xgroup", lambda: Cmd([b"XGROUP", b"SETID", k(), grp(),
                                             r.choice([b"$", sid()])])),
            (0.5, "xgroup", lambda: Cmd([b"XGROUP", b"DESTROY", k(), grp()])),
            (1, "xgroup", lambda: Cmd([b"XGROUP", b"CREATECONSUMER", k(), grp(),
                                                      self.stream_consumer()])),
            (1, "xgroup", lambda: Cmd([b"XGROUP", b"DELCONSUMER", k(), grp(),
                                                   self.stream_consumer()])),
            (0.2, "xgroup", lambda: Cmd([b"XGROUP", b"HELP"])),
        ]

    def add_follow_ups(self, cmd):
        """The commands a comparison needs right after `cmd`, in the same
        batch (so in the same state, on each server):
          * OBJECT ENCODING after HGETALL, HKEYS and HVALS: their order is
            compared exactly unless the oracle says the hash is a hashtable;
          * HGETALL (and its OBJECT ENCODING) after HRANDFIELD: each
            server's random fields are checked against its own hash;
          * TYPE and GET after OBJECT ENCODING, REFCOUNT and IDLETIME: the
            known 7.0-vs-7.2 differences in encodings hold for one type
            only, and a string's encoding and refcount must be what its
            bytes say (see condition());
          * SMEMBERS after SRANDMEMBER (as HGETALL after HRANDFIELD);
          * SMEMBERS and DEL after SPOP: each server's popped members are
            checked against what is left, then the key (whose members now
            differ between the servers) goes on both."""
        name = cmd.name()
        if len(cmd.args) < 2:
            return
        key = cmd.args[1]
        if name == "SRANDMEMBER":
            cmd.follow = [Cmd([b"SMEMBERS", key])]
            return
        if name == "ZRANDMEMBER":
            cmd.follow = [Cmd([b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])]
            return
        if name in ("LMOVE", "RPOPLPUSH", "BLMOVE") and len(cmd.args) > 2 and \
                cmd.args[1] == cmd.args[2]:
            # A list moved onto itself keeps its key and TTL (see
            # differential_known.json, same-key-move-drops-ttl).
            cmd.follow = [Cmd([b"PTTL", key], role="after-self-move")]
            return
        if name == "PFCOUNT" and len(cmd.args) == 2:
            # Redis writes the cardinality it computed into the value's cache
            # (bytes 8 to 15); causalkv does not (differential_known.json).
            # GET shows it, then the cache is marked stale on both.
            cmd.follow = [Cmd([b"GET", key]), Cmd([b"SETRANGE", key, b"8", HLL_STALE_CACHE])]
            return
        if name == "SPOP":
            cmd.follow = [Cmd([b"SMEMBERS", key], role="after-spop"), Cmd([b"DEL", key])]
            return
        if name in ("OBJECT ENCODING", "OBJECT REFCOUNT", "OBJECT IDLETIME") and \
                len(cmd.args) == 3:
            cmd.follow = [Cmd([b"TYPE", cmd.args[2]]), Cmd([b"GET", cmd.args[2]])]
            return
        if not self.has("object"):
            if name == "HRANDFIELD":
                cmd.follow = [Cmd([b"HGETALL", key])]
            return

        def encoding():
            e = Cmd([b"OBJECT", b"ENCODING", key])
            self.add_follow_ups(e)
            return [e] + e.follow
        if name in ("HGETALL", "HKEYS", "HVALS") and len(cmd.args) == 2:
            cmd.follow = encoding()
        elif name == "HRANDFIELD":
            cmd.follow = [Cmd([b"HGETALL", key])] + encoding()

    @staticmethod
    def expand(cmd):
        """A command with what goes before and after it, as sent."""
        return cmd.pre + [cmd] + cmd.follow

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
        if self.focus is not None:
            table = [(w * FOCUS[1], g) for w, g in table]
        table += [(w * (FOCUS[0] if family_of(name) == self.focus else 1), g)
                  for w, name, g in self.hash_table() + self.collection_table() +
                  self.bits_table() + self.zset_table() + self.stream_table()
                  if self.has(name)]
        weights = [w for w, _ in table]
        cmd = r.choices(table, weights)[0][1]()
        # Arity and syntax damage: drop the last argument or add a junk one.
        # Not for commands whose shorter form is excluded (TIME x -> TIME) or
        # would leave a transaction open (MULTI x -> MULTI).
        if cmd.args[0] in NO_DAMAGE:
            pass  # SCAN 0 COUNT 1000 COUNT 1 would page: cmd_scan damages SCAN itself
        elif r.random() < 0.06 and len(cmd.args) > 1 and cmd.args[0] not in NO_POP:
            cmd.args.pop()
        elif r.random() < 0.04:
            cmd.args.append(r.choice([b"x", b"", b"1", b"NX"]))
        self.generated[cmd.args[0].decode("latin-1").lower()] += 1
        if " " in cmd.name():  # "object|freq", "client|unblock"...
            self.generated[cmd.name().lower().replace(" ", "|")] += 1
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
                # (After a RESET or DISCARD the rest runs outside MULTI.)
                self.in_multi = not ended
                try:
                    cmd = self.one()
                finally:
                    self.in_multi = False
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
                # (What must come before the command comes before the SKIP.)
                cmd = self.one_no_watch()
                out += cmd.pre + [Cmd([b"CLIENT", b"REPLY", b"SKIP"]), cmd] + cmd.follow
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


# How many of the replies after a command its comparison may read.
FOLLOWING = 4


def canonical_int(value):
    """The integer a string is, if Redis would store it as one: the
    canonical decimal form of a signed 64-bit integer (no sign but a minus,
    no leading zero, no space); else None."""
    if not isinstance(value, bytes) or not 0 < len(value) <= 20:
        return None
    if not re.fullmatch(rb"-?[1-9][0-9]*|0", value):
        return None
    n = int(value)
    return n if -2 ** 63 <= n < 2 ** 63 else None


def string_encoding(value):
    """OBJECT ENCODING of a string as its bytes alone decide it (causalkv):
    int, embstr up to 44 bytes, raw beyond."""
    if canonical_int(value) is not None:
        return b"int"
    return b"embstr" if len(value) <= 44 else b"raw"


def number(text):
    """A score or a distance as Redis prints it, as a float (None if it is
    not one)."""
    if isinstance(text, float):
        return text
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def scored_pairs(spans):
    """[(member, score)] of a flat member/score list's raw elements, the
    score as a float (bulk strings in RESP2, doubles in RESP3)."""
    out = []
    for m, sc in zip(spans[0::2], spans[1::2]):
        node, _ = parse_typed(sc, 0)
        out.append((m, number(node[1])))
    return out


def same_numbers(redis_raw, ckv_raw):
    """Whether two replies are the same but for how numbers are written
    (0.10000000000000001 against 0.1): the same types and lengths, and every
    string or double that differs is a number of the same value on both."""
    if not isinstance(redis_raw, bytes) or not isinstance(ckv_raw, bytes):
        return False
    try:
        a, end_a = parse_typed(redis_raw, 0)
        b, end_b = parse_typed(ckv_raw, 0)
    except (ValueError, IndexError):
        return False
    if end_a != len(redis_raw) or end_b != len(ckv_raw):
        return False

    def same(x, y):
        if x[0] != y[0]:
            return False
        if x[0] in (b"*", b"~", b">"):
            return len(x[1]) == len(y[1]) and all(same(p, q) for p, q in zip(x[1], y[1]))
        if x[0] == b"%":
            return len(x[1]) == len(y[1]) and all(
                same(p[0], q[0]) and same(p[1], q[1]) for p, q in zip(x[1], y[1]))
        if x[1] == y[1]:
            return True
        if x[0] not in (b"$", b","):
            return False
        u, v = number(x[1]), number(y[1])
        return u is not None and v is not None and (u == v or (u != u and v != v))
    return same(a, b)


def hll_differs_in_cache_only(redis_raw, ckv_raw):
    """Two bulk strings that are the same HyperLogLog but for the cached
    cardinality (bytes 8 to 15 of the value)."""
    if not isinstance(redis_raw, bytes) or not isinstance(ckv_raw, bytes):
        return False
    if len(redis_raw) != len(ckv_raw) or redis_raw[:1] != b"$":
        return False
    start = redis_raw.index(b"\r\n") + 2
    if redis_raw[start:start + 4] != b"HYLL" or ckv_raw[:start + 4] != redis_raw[:start + 4]:
        return False
    return (redis_raw[:start + 8] == ckv_raw[:start + 8]
            and redis_raw[start + 16:] == ckv_raw[start + 16:])


def shared_integer(value):
    """Whether Redis would share the string's object (OBJECT REFCOUNT
    2147483647): an integer from 0 to 9999."""
    n = canonical_int(value)
    return n is not None and 0 <= n < 10000


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
            e["_commands"] = set([e["command"]] if isinstance(e["command"], str)
                                 else e["command"])
            e["_args"] = re.compile(e.get("args", ".*"), re.S)
            e["_redis"] = re.compile(e.get("redis", ".*"), re.S)
            e["_causalkv"] = re.compile(e.get("causalkv", ".*"), re.S)
        self.hello_ignored = set()
        for e in self.entries:
            self.hello_ignored.update(e.get("hello_ignore_fields", []))
        self.used = collections.Counter()

    def skip(self, cmd, in_multi, suppressed=False):
        """True if an entry says this command is not sent (at all, within
        MULTI, or while CLIENT REPLY OFF or SKIP suppresses its reply)."""
        for e in self.entries:
            if not (e.get("skip") or (in_multi and e.get("skip_in_multi")) or
                    (suppressed and e.get("skip_when_reply_suppressed"))):
                continue
            if cmd.name() in e["_commands"] and e["_args"].fullmatch(cmd.args_text()):
                self.used[e["id"]] += 1
                return True
        return False

    def match(self, cmd, redis_raw, ckv_raw, condition=None):
        """The entry tolerating this difference, or None. An entry with
        "when" also needs condition(name, cmd) to hold."""
        r = redis_raw.decode("latin-1") if isinstance(redis_raw, bytes) else str(redis_raw)
        c = ckv_raw.decode("latin-1") if isinstance(ckv_raw, bytes) else str(ckv_raw)
        for e in self.entries:
            if e.get("skip") or e.get("skip_when_reply_suppressed") or \
                    "hello_ignore_fields" in e:  # skip_in_multi: matched outside
                continue
            # A "redis bug" may hit either side when a redis-server is the
            # subject too.
            sides = [(r, c), (c, r)] if (e["kind"] == "redis bug" and
                                         harness.redis_as_subject()) else [(r, c)]
            if (cmd.name() in e["_commands"] and e["_args"].fullmatch(cmd.args_text())
                    and any(e["_redis"].fullmatch(x) and e["_causalkv"].fullmatch(y)
                            for x, y in sides)
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
        # What causalkv has: the commands it lists, whether it knows the
        # hash encoding thresholds (CONFIG GET answers a pair), and the
        # features a gated generator needs (see Generator).
        with RawConnection(cls.server.port) as c:
            cls.supported = {n.decode().lower()
                             for n in harness.decode(c.call("COMMAND", "LIST"))}

            def knows(name):
                reply = harness.decode(c.call("CONFIG", "GET", name))
                return isinstance(reply, list) and len(reply) == 2
            cls.hash_config = knows("hash-max-listpack-entries")
            cls.features = set()
            if knows("set-max-intset-entries"):
                cls.features.add("set-config")
            if knows("maxmemory-policy"):
                cls.features.add("policy-config")
            for name, probe in PROBED_SUBCOMMANDS.items():
                if name.split("|")[0] in cls.supported and \
                        not c.call(*probe).startswith(b"-ERR unknown subcommand"):
                    cls.features.add(name)
        # A blocking command's timeout ends, on Redis, at the next event
        # loop turn: at hz 10 (the default) 100 ms after it started, whatever
        # the timeout; at hz 100, 10 ms.
        for srv in (cls.oracle, cls.server):
            with RawConnection(srv.port) as c:
                c.call("CONFIG", "SET", "hz", "100")  # (causalkv may refuse it)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.oracle.stop()

    # ---- comparison ---------------------------------------------------------

    def equal(self, cmd, o, s, queued, following=()):
        """Whether two raw replies to `cmd` agree (after the normalizations
        the module docstring lists). `queued` is the list of commands an
        EXEC runs; `following` the next few commands with their two
        replies, [(command, redis reply, causalkv reply)...] (the
        follow-ups a comparison reads, see Generator.add_follow_ups).
        Returns (ok, known entry or None)."""
        if o == s:
            return True, None
        nxt = following[0] if following else None
        if isinstance(o, bytes) and isinstance(s, bytes):
            if self.normalized_equal(cmd, o, s, queued, nxt, following):
                return True, None
        self.current_following = list(following)
        self.current_redis, self.current_reply = o, s
        e = self.known.match(cmd, o, s, self.condition)
        if e is not None:
            return True, e
        return False, None

    def normalized_equal(self, cmd, o, s, queued, nxt, following=()):
        try:
            if cmd.name() == "EXEC" and queued is not None:
                eo, es = element_spans(o), element_spans(s)
                if eo is None or es is None or len(eo) != len(es) or len(eo) != len(queued) \
                        or o[:1] != s[:1]:
                    return False
                for j, (qc, xo, xs) in enumerate(zip(queued, eo, es)):
                    qf = list(zip(queued[j + 1:j + 1 + FOLLOWING],
                                  eo[j + 1:j + 1 + FOLLOWING], es[j + 1:j + 1 + FOLLOWING]))
                    self.current_preceding = list(zip(queued[max(0, j - 2):j],
                                                      eo[max(0, j - 2):j], es[max(0, j - 2):j]))
                    ok, e = self.equal(qc, xo, xs, None, qf)
                    if not ok:
                        return False
                    if e is not None:
                        self.tolerated.append((qc, xo, xs, e))
                        if e.get("diverges"):
                            break  # the rest ran on states that may differ
                return True
            if cmd.norm == NORM_SET_ORDER:
                return self.same_elements(o, s)
            if cmd.norm == NORM_HEADER:
                return o[:1] in (b"*", b"~") and header(o) == header(s)
            if cmd.norm == NORM_SSCAN:
                eo, es = element_spans(o), element_spans(s)
                if eo is None or es is None or len(eo) != 2 or len(es) != 2 or o[:1] != s[:1]:
                    return False
                ok = eo[0] == es[0] and self.same_elements(eo[1], es[1])
                self.set_normalized["SSCAN order"] += ok
                return ok
            if cmd.norm == NORM_SPOP:
                ok = self.spop_equal(cmd, o, s, following)
                self.set_normalized["SPOP"] += ok
                return ok
            if cmd.norm == NORM_SRANDMEMBER:
                ok = self.srandmember_equal(cmd, o, s, nxt)
                self.set_normalized["SRANDMEMBER"] += ok
                return ok
            if cmd.norm == NORM_ZRANDMEMBER:
                ok = self.zrandmember_equal(cmd, o, s, nxt)
                self.set_normalized["ZRANDMEMBER"] += ok
                return ok
            if cmd.norm == NORM_ZSCAN:
                eo, es = element_spans(o), element_spans(s)
                if eo is None or es is None or len(eo) != 2 or len(es) != 2 or o[:1] != s[:1]:
                    return False
                po, ps = element_spans(eo[1]), element_spans(es[1])
                ok = (eo[0] == es[0] and po is not None and ps is not None
                      and header(eo[1]) == header(es[1])
                      and sorted(scored_pairs(po)) == sorted(scored_pairs(ps)))
                self.set_normalized["ZSCAN order"] += ok
                return ok
            if cmd.norm == NORM_GEO:
                ok = self.same_elements(o, s)
                self.set_normalized["GEO order"] += ok
                return ok
            if cmd.norm in (NORM_IDLETIME, NORM_FREQ):
                if o[:1] != b":" or s[:1] != b":":
                    return False
                a, b = int(o[1:-2]), int(s[1:-2])
                if cmd.norm == NORM_IDLETIME:
                    ok = a >= 0 and b >= 0 and abs(a - b) <= 2
                else:  # an LFU counter: probabilistic, and 7.0 shares small integers
                    ok = 0 <= a <= 255 and 0 <= b <= 255
                self.set_normalized[cmd.name()] += ok
                return ok
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

    def same_elements(self, o, s):
        """The same reply type and length, and the same elements in any
        order (set replies: Redis 7.0 keeps small sets of non-integers in a
        hashtable, 7.2 in a listpack, in insertion order)."""
        if o[:1] not in (b"*", b"~") or header(o) != header(s):
            return False
        eo, es = element_spans(o), element_spans(s)
        ok = eo is not None and es is not None and sorted(eo) == sorted(es)
        self.set_normalized["set order"] += ok
        return ok

    @staticmethod
    def follow_reply(cmd, following, index):
        """(redis reply, causalkv reply) of cmd.follow[index], if it is
        among `following` (CLIENT REPLY may have suppressed it); else None."""
        if len(cmd.follow) <= index:
            return None
        for fc, fo, fs in following:
            if fc is cmd.follow[index]:
                return fo, fs
        return None

    def spop_equal(self, cmd, o, s, following):
        """SPOP pops random members: the same reply shape on both, distinct
        members, as many as the count asks; where the SMEMBERS that follows
        it (add_follow_ups) is there, each server's popped members are not
        among what is left, what is left is as large on both, and popped
        plus left (the set before) is the same set on both."""
        single = len(cmd.args) == 2
        if single:
            if o[:1] != b"$" or s[:1] != b"$" or o.startswith(b"$-1") or s.startswith(b"$-1"):
                return False
            popped = [[harness.decode(o)], [harness.decode(s)]]
        else:
            if o[:1] not in (b"*", b"~") or header(o) != header(s):
                return False
            popped = [harness.decode(o), harness.decode(s)]
        if any(len(set(p)) != len(p) for p in popped):
            return False
        after = self.follow_reply(cmd, following, 0)
        if after is None:
            return True
        left = [harness.decode(x) for x in after]
        if not all(isinstance(x, list) for x in left) or len(left[0]) != len(left[1]):
            return False
        if any(set(p) & set(lf) for p, lf in zip(popped, left)):
            return False
        if set(popped[0]) | set(left[0]) != set(popped[1]) | set(left[1]):
            return False
        if not single:
            count = int(cmd.args[2])
            if len(popped[0]) != min(count, len(popped[0]) + len(left[0])):
                return False
        self.set_normalized["SPOP checked against SMEMBERS"] += 1
        return True

    def srandmember_equal(self, cmd, o, s, nxt):
        """SRANDMEMBER, as HRANDFIELD: the same reply shape on both; where
        the SMEMBERS that follows it is there, each server's members are its
        own set's, as many as the count asks, distinct for a positive
        count."""
        sets = [None, None]
        if nxt is not None and nxt[0].name() == "SMEMBERS" and nxt[0].args[1:] == cmd.args[1:2]:
            sets = [harness.decode(x) if isinstance(x, bytes) and x[:1] in (b"*", b"~")
                    else None for x in nxt[1:]]
        if len(cmd.args) == 2:
            for raw, members in zip((o, s), sets):
                if raw[:1] != b"$" or raw.startswith(b"$-1"):
                    return False
                if members is not None and harness.decode(raw) not in members:
                    return False
            return True
        if o[:1] != s[:1] or o[:1] != b"*" or header(o) != header(s):
            return False
        count = int(cmd.args[2])
        for raw, members in zip((o, s), sets):
            items = harness.decode(raw)
            if members is None:
                continue
            want = min(count, len(members)) if count >= 0 else (-count if members else 0)
            if len(items) != want or any(x not in members for x in items):
                return False
            if count >= 0 and len(set(items)) != len(items):
                return False
        if sets[0] is not None and sets[1] is not None:
            self.set_normalized["SRANDMEMBER checked against SMEMBERS"] += 1
        return True

    def zrandmember_equal(self, cmd, o, s, nxt):
        """ZRANDMEMBER, as HRANDFIELD, against the ZRANGE ... WITHSCORES sent
        right after it (scores compared as numbers: Redis 7.0 and 7.2 format
        them differently)."""
        zsets = [None, None]
        if nxt is not None and nxt[0].name() == "ZRANGE" and nxt[0].args[1:2] == cmd.args[1:2]:
            for i, raw in enumerate(nxt[1:]):
                if isinstance(raw, bytes) and raw[:1] == b"*":
                    v = harness.decode(raw)
                    if v and isinstance(v[0], list):  # RESP3 pairs
                        v = [x for pair in v for x in pair]
                    zsets[i] = {m: number(sc) for m, sc in zip(v[0::2], v[1::2])}
        if len(cmd.args) == 2:
            for raw, z in zip((o, s), zsets):
                if raw[:1] != b"$" or raw.startswith(b"$-1"):
                    return False
                if z is not None and harness.decode(raw) not in z:
                    return False
            return True
        if o[:1] != s[:1] or o[:1] != b"*" or header(o) != header(s):
            return False
        count = int(cmd.args[2])
        withscores = len(cmd.args) == 4
        for raw, z in zip((o, s), zsets):
            items = harness.decode(raw)
            if withscores:
                if items and isinstance(items[0], list):
                    pairs = [tuple(p) for p in items]
                else:
                    pairs = list(zip(items[0::2], items[1::2]))
            else:
                pairs = [(m, None) for m in items]
            if z is None:
                continue
            members = [m for m, _ in pairs]
            want = min(count, len(z)) if count >= 0 else (-count if z else 0)
            if len(members) != want or any(m not in z for m in members):
                return False
            if withscores and any(number(sc) != z[m] for m, sc in pairs):
                return False
            if count >= 0 and len(set(members)) != len(members):
                return False
        return True

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
        """The conditions an entry of the known-differences file can name.
        Those on a key's type and value read the TYPE and GET that follow
        OBJECT ENCODING and OBJECT REFCOUNT (add_follow_ups)."""
        if name == "zset_scores_mixed":
            # The ZRANGE ... WITHSCORES sent right before a lex-range command
            # (Generator.lex_pre): its sorted set has members of different
            # scores on the oracle, where Redis leaves lex ranges unspecified.
            for pc, po, _ in self.current_preceding:
                if cmd.pre and pc is cmd.pre[0] and isinstance(po, bytes) and po[:1] == b"*":
                    v = harness.decode(po)
                    if v and isinstance(v[0], list):
                        v = [x for pair in v for x in pair]
                    return len({number(sc) for sc in v[1::2]}) > 1
            return False
        if name == "after_self_move":
            return cmd.role == "after-self-move"
        if name == "key_is_zset":
            types = self.follow_reply(cmd, self.current_following, 0)
            return types is not None and types[0] == types[1] == b"+zset\r\n"
        if name == "same_numbers":
            return same_numbers(self.current_redis, self.current_reply)
        if name == "hll_differs_in_cache_only":
            return hll_differs_in_cache_only(self.current_redis, self.current_reply)
        if name in ("key_is_set", "key_is_list", "string_encoding_from_bytes",
                    "string_refcount_from_bytes", "string_is_shared_integer"):
            types = self.follow_reply(cmd, self.current_following, 0)
            if types is None:
                return False
            want = {"key_is_set": b"+set\r\n", "key_is_list": b"+list\r\n"}.get(
                name, b"+string\r\n")
            if types[0] != want or types[1] != want:
                return False
            if name in ("key_is_set", "key_is_list"):
                return True
            values = self.follow_reply(cmd, self.current_following, 1)
            if values is None or not values[1].startswith(b"$"):
                return False
            value = harness.decode(values[1])
            reply = harness.decode(self.current_reply)
            if name == "string_encoding_from_bytes":
                return reply == string_encoding(value)
            if name == "string_is_shared_integer":
                return shared_integer(value)
            return reply == (2147483647 if shared_integer(value) else 1)
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
            return any(v[0] == b"+none\r\n" for v in now.values())
        if name == "watched_keys_unchanged":
            # As watched_missing_key_unchanged, with every watched key present:
            # a write that changed nothing (LTRIM keeping every element,
            # SETBIT of a bit to its value) touched it, which aborts the
            # transaction in Redis and leaves causalkv's fingerprint as it was.
            if not self.exec_is_last or not self.watching:
                return False
            now = self.probe(self.watching)
            snap = self.watch_snapshot[self.current_conn]
            return all(now[k] == snap.get(k) for k in self.watching)
        raise ValueError("unknown condition %r in %s" % (name, KNOWN_PATH))

    def probe(self, keys):
        """(type, value, PEXPIRETIME) of each (db, key) on the oracle: the
        value is GET's reply, HGETALL's for a hash, LRANGE's for a list,
        SMEMBERS's sorted for a set (a hashtable's order may change
        without a write), ZRANGE's with scores for a sorted set."""
        out = {}
        reads = {b"+hash\r\n": ["HGETALL"], b"+list\r\n": ["LRANGE", 0, -1],
                 b"+set\r\n": ["SMEMBERS"], b"+zset\r\n": ["ZRANGE", 0, -1, "WITHSCORES"]}
        with RawConnection(self.oracle.port) as c:
            for db, key in sorted(keys):
                c.call("SELECT", db)
                kind = c.call("TYPE", key)
                value = c.call(*([reads.get(kind, ["GET"])[0], key] +
                                 reads.get(kind, ["GET"])[1:]))
                if kind == b"+set\r\n":
                    value = sorted(element_spans(value) or [])
                out[(db, key)] = (kind, value, c.call("PEXPIRETIME", key))
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
                end = min(len(ro), len(rs), len(producing), i + 1 + FOLLOWING)
                following = [(producing[j], ro[j], rs[j]) for j in range(i + 1, end)]
                self.current_preceding = [(producing[j], ro[j], rs[j])
                                          for j in range(max(0, i - 2), i)
                                          if j < len(ro) and j < len(rs)]
                ok, e = self.equal(c, o, s, queued if c.name() == "EXEC" and in_multi else None,
                                   following)
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
            if not ok and tolerated_seen and o is not None and s is not None:
                # After a tolerated difference that diverges, the rest of the
                # batch runs on states that may differ.
                ok = True
                note = "  <<< after a diverging difference"
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
        off = skip = False  # CLIENT REPLY OFF / SKIP, as in run_batch
        for c in cmds:
            name = c.name()
            suppressed = off or skip
            if name == "CLIENT REPLY" and len(c.args) == 3:
                mode = c.args[2].upper()
                off = mode == b"OFF" or (off and mode != b"ON")
                skip = mode == b"SKIP" and not off
            elif name == "RESET" and len(c.args) == 1:
                off = skip = False
            else:
                skip = False
            if self.known.skip(c, in_multi, suppressed):
                # In its place a PING, so that a CLIENT REPLY SKIP before it
                # does not swallow the sentinel's reply instead.
                out.append(Cmd([b"PING"]))
                continue
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

    def new_epoch(self, old, hash_config=None, settings=()):
        """Fresh connections (two clients per server) and FLUSHALL on both;
        `hash_config`: the epoch's (hash-max-listpack-entries,
        hash-max-listpack-value), and `settings` other (name, value) pairs,
        set on both."""
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
            for name, value in settings:
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
        gen = Generator(random.Random(1), self.supported, self.hash_config, self.features)
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

    def test_list_set_generators(self):
        """The gated list, set, keyspace, bitmap, HyperLogLog, sorted set,
        geo and SORT generators, as if causalkv had every command: each is
        made (CLIENT UNBLOCK and each OBJECT subcommand too); big epochs
        grow lists and sets by hundreds; and no blocking command can wait
        for long: outside MULTI it has a tiny timeout or an RPUSH (ZADD) to
        its first key right before it."""
        gen = Generator(random.Random(3), None, True)
        grown, blocking = collections.Counter(), collections.Counter()
        settings = collections.Counter()
        for i in range(20000):
            if i % 40 == 0:
                gen.start_epoch()
                settings.update(gen.epoch_settings)
            cmds, _ = gen.batch()
            in_multi = False
            for j, c in enumerate(cmds):
                name = c.name()
                if name in ("LPUSH", "RPUSH", "SADD") and len(c.args) > 100:
                    grown[name] += 1
                if name == "MULTI" and len(c.args) == 1:
                    in_multi = True
                elif name in ("EXEC", "DISCARD", "RESET") and len(c.args) == 1:
                    in_multi = False
                self.assertEqual(cmds[j + 1:j + 1 + len(c.follow)], c.follow)
                before = cmds[:j]
                if before and before[-1].name() == "CLIENT REPLY" and c.pre:
                    before = before[:-1]  # CLIENT REPLY SKIP between them
                self.assertEqual(before[len(before) - len(c.pre):], c.pre)
                if name.lower() not in BLOCKING_COMMANDS + ZSET_BLOCKING_COMMANDS:
                    continue
                timeout = c.args[1] if name in ("BLMPOP", "BZMPOP") else c.args[-1]
                if in_multi:
                    blocking["in MULTI"] += 1
                elif timeout in TINY_TIMEOUTS:
                    blocking["tiny timeout"] += 1
                else:
                    first = c.args[3] if name in ("BLMPOP", "BZMPOP") else c.args[1]
                    push = b"ZADD" if name.startswith("BZ") else b"RPUSH"
                    self.assertEqual(c.pre and c.pre[0].args[:2], [push, first],
                                     "a blocking command that may block: %r" % c.args)
                    blocking["after an RPUSH"] += 1
        wanted = LIST_COMMANDS + BLOCKING_COMMANDS + SET_COMMANDS + KEYSPACE_COMMANDS + \
            tuple(PROBED_SUBCOMMANDS) + ("object|encoding",) + BITMAP_COMMANDS + \
            HLL_COMMANDS + ZSET_COMMANDS + ZSET_BLOCKING_COMMANDS + GEO_COMMANDS + SORT_COMMANDS
        missing = [n for n in wanted if n not in gen.generated]
        self.assertEqual(missing, [], "generators that never ran")
        self.assertGreater(min(grown[n] for n in ("LPUSH", "RPUSH", "SADD")), 10, grown)
        self.assertGreater(min(blocking.values()), 20, blocking)
        self.assertGreater(settings[(b"maxmemory-policy", b"allkeys-lfu")], 10)
        self.assertGreater(settings[(b"set-max-intset-entries", b"4")], 2)

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
        gen = Generator(random.Random(seed + 1), self.supported, self.hash_config,
                        self.features)
        self.sentinel = 0
        self.commands_sent = 0
        self.batches_run = 0
        self.used_hello_normalization = 0
        self.hash_normalized = collections.Counter()
        self.set_normalized = collections.Counter()
        self.mismatches = 0
        # DIFF_KEEP_GOING=1 (for finding differences, not for CI): print each
        # difference in one line and go on with a new epoch; =2: with the
        # epoch's whole transcript.
        keep_going = os.environ.get("DIFF_KEEP_GOING") in ("1", "2")
        transcripts = os.environ.get("DIFF_KEEP_GOING") == "2"
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
                sides = self.new_epoch(sides, gen.start_epoch(), gen.epoch_settings)
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
                        if transcripts:
                            print(self.format_transcript(transcript, seed, epochs),
                                  file=sys.stderr)
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
              "hash replies normalized: %s; set and OBJECT replies normalized: %s"
              % (epochs, self.batches_run, self.commands_sent, elapsed, len(gen.generated),
                 dict(self.known.used) or "none", self.used_hello_normalization,
                 dict(self.hash_normalized) or "none", dict(self.set_normalized) or "none"),
              file=sys.stderr)
        if self.mismatches:
            self.fail("%d epochs ended in an unknown difference" % self.mismatches)


if __name__ == "__main__":
    harness.main()
