#!/usr/bin/python3
"""The sorted-set commands (ZADD ZINCRBY ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE
ZMSCORE ZRANK ZREVRANK, the ZRANGE family and ZRANGESTORE, ZREMRANGEBY*,
ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER, ZUNION ZINTER ZDIFF and their STORE
forms, ZINTERCARD, ZSCAN, the blocking BZPOPMIN BZPOPMAX BZMPOP) and the geo
commands (GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE GEORADIUS
GEORADIUSBYMEMBER and the _RO forms) against a real redis-server as the
spec, byte for byte, in RESP2 and in RESP3 (HELLO 3).

The oracle is the Debian redis-server, 7.0.15; causalkv follows Redis 7.2.
What 7.2 changed is normalized or checked apart, and nothing else:
  * doubles: 7.0 spells a score with "%.17g" (1.1000000000000001, 1e+17),
    7.2 with the shortest text that reads back the same (1.1,
    100000000000000000). The oracle's replies are rewritten from the first
    spelling to the second (norm72 below: only text that is exactly 7.0's
    spelling of a double is touched, so members, distances and GEOPOS
    coordinates pass through unchanged);
  * ZRANK/ZREVRANK ... WITHSCORE exists only in 7.2: its reply is checked
    against the oracle's ZRANK and ZSCORE;
  * encodings: 7.2's ZADD creates (or converts) a sorted set in the encoding
    the number of pairs calls for, before adding them (7.0 converts as
    members arrive): a ZADD of more pairs than zset-max-listpack-entries,
    some of them repeated, gives a skiplist in 7.2 and a listpack in 7.0.
    Checked on causalkv alone (EncodingThresholds);
  * GEO distances along a meridian (equal longitudes): 7.2 computes the arc
    directly, 7.0 through the haversine; they differ beyond the 4 decimals
    replied, so no test can see it.
What Redis leaves to chance is compared by shape: ZRANDMEMBER's picks, a
skiplist's ZSCAN order (a full iteration is compared as sorted pairs), and
the order of geo results at equal distances.

CAUSALKV_TEST_SUBJECT=redis-server runs the comparisons with a second
redis-server in causalkv's place (its replies normalized as the oracle's);
the checks of 7.2-only behaviour are skipped then.
"""

import decimal
import math
import os
import random
import re
import shutil
import time
import unittest

import harness
from harness import RawConnection, decode, encode_command, parse_reply

WRONGTYPE = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


# --------------------------------------------------------------------------
# Redis 7.2's spelling of doubles
# --------------------------------------------------------------------------

def fmt72(x):
    """A double as Redis 7.2 writes it (d2string): integers within 2^62 as
    integers, otherwise the shortest round-trip digits laid out by fpconv's
    rules (fixed notation for moderate exponents, else d.ddde+XX)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    if -2 ** 62 <= x <= 2 ** 62 and x == int(x):
        return str(int(x))
    t = decimal.Decimal(repr(x)).normalize().as_tuple()
    digits = "".join(map(str, t.digits))
    nd, scale = len(digits), t.exponent
    exp10 = scale + nd - 1
    ae = abs(exp10)
    sign = "-" if t.sign else ""
    if scale >= 0 and ae < nd + 7:
        body = digits + "0" * scale
    elif scale < 0 and (scale > -7 or ae < 4):
        i = nd + scale
        body = ("0." + "0" * (-i) + digits) if i <= 0 else digits[:i] + "." + digits[i:]
    else:
        body = (digits[0] + ("." + digits[1:] if nd > 1 else "") + "e"
                + ("-" if exp10 < 0 else "+") + str(ae))
    return sign + body


def _respell(text):
    """7.0's "%.17g" spelling of a double becomes 7.2's; anything else
    (members, 4-decimal distances, GEOPOS coordinates) is left alone."""
    try:
        s = text.decode("ascii")
        x = float(s)
    except (UnicodeDecodeError, ValueError):
        return text
    if math.isnan(x) or ("%.17g" % x) != s:
        return text
    return fmt72(x).encode()


def norm72(raw):
    """A 7.0 reply with its doubles (bulk strings and RESP3 doubles) spelled
    as 7.2 spells them."""
    if not isinstance(raw, bytes):
        return raw

    def bulk(m):
        body = _respell(m.group(2))
        return b"$%d\r\n%s\r\n" % (len(body), body)
    raw = re.sub(rb"\$(\d+)\r\n([-+.0-9a-z]{1,30})\r\n", bulk, raw)
    return re.sub(rb",([-+.0-9a-z]{1,30})\r\n", lambda m: b"," + _respell(m.group(1)) + b"\r\n",
                  raw)


class Norm72Test(unittest.TestCase):
    def test_respelling(self):
        self.assertEqual(norm72(b"$18\r\n1.1000000000000001\r\n"), b"$3\r\n1.1\r\n")
        self.assertEqual(norm72(b",1e+17\r\n"), b",100000000000000000\r\n")
        self.assertEqual(norm72(b"$22\r\n8.4753771541937767e-05\r\n"),
                         b"$20\r\n8.475377154193777e-5\r\n")
        for kept in (b"$20\r\n13.36138933897018433\r\n", b"$6\r\n0.0000\r\n", b"$2\r\nm1\r\n",
                     b"$3\r\ninf\r\n", b"$1\r\n3\r\n", b"$11\r\n166274.1516\r\n"):
            self.assertEqual(norm72(kept), kept)


# --------------------------------------------------------------------------
# Comparison base
# --------------------------------------------------------------------------

def spans(raw):
    """The raw bytes of each element of an array reply."""
    end = raw.index(b"\r\n")
    n = int(raw[1:end])
    pos, out = end + 2, []
    for _ in range(max(n, 0)):
        _, nxt = parse_reply(raw, pos)
        out.append(raw[pos:nxt])
        pos = nxt
    return out


class ZsetTestCase(harness.OracleCase):
    """One oracle + subject pair per class; fresh connections, FLUSHALL and
    Redis's default zset thresholds before every test."""

    def setUp(self):
        self.o = RawConnection(self.oracle.port)
        self.s = RawConnection(self.server.port)
        self.addCleanup(self.o.close)
        self.addCleanup(self.s.close)
        self.proto = 2
        for c in (self.o, self.s):
            self.assertEqual(c.call("FLUSHALL"), b"+OK\r\n")
            for name, value in (("zset-max-listpack-entries", "128"),
                                ("zset-max-listpack-value", "64")):
                self.assertEqual(c.call("CONFIG", "SET", name, value), b"+OK\r\n",
                                 "CONFIG SET %s on port %d" % (name, c.port))

    def skip_if_redis_subject(self, what):
        if harness.redis_as_subject():
            self.skipTest("%s: Redis 7.2 behaviour, the subject is the 7.0 oracle" % what)

    # ---- sending --------------------------------------------------------

    def both(self, *args, conns=None):
        """One command to both servers: (redis raw, causalkv raw), the
        oracle's doubles respelled as 7.2's; a failed connection becomes a
        string, which shows as a difference."""
        out = []
        for c in conns or (self.o, self.s):
            try:
                out.append(c.call(*args))
            except (ConnectionError, TimeoutError, OSError) as e:
                out.append("<%s: %s>" % (type(e).__name__, e))
        # GEO replies carry no addReplyDouble: their coordinates ("%.17Lf")
        # and distances (4 decimals) are the same in 7.0 and 7.2, and a
        # coordinate can look like 7.0's spelling of a double.
        if not str(args[0]).upper().startswith("GEO"):
            out[0] = norm72(out[0])
            if harness.redis_as_subject():
                out[1] = norm72(out[1])
        return out

    def show(self, args):
        text = " ".join(repr(a)[:60] if isinstance(a, bytes) else str(a)[:60] for a in args)
        return "RESP%d %s" % (self.proto, text)

    def same(self, *args):
        """Byte-for-byte the same reply; returns the oracle's raw reply."""
        o, s = self.both(*args)
        with self.subTest(command=self.show(args)):
            self.assertEqual(s, o, "\ncommand:  %s\nredis:    %r\ncausalkv: %r"
                             % (self.show(args), o[:400], s[:400]))
        return o

    def same_error(self, *args):
        o = self.same(*args)
        self.assertTrue(o.startswith(b"-"), "the oracle did not refuse %s: %r"
                        % (self.show(args), o[:200]))
        return o

    def same_ok(self, *args):
        o = self.same(*args)
        self.assertFalse(o.startswith(b"-"), "the oracle refused %s: %r" % (self.show(args), o))
        return o

    def protocols(self):
        """Runs the loop body in RESP2, then in RESP3, each time on an empty
        database."""
        for proto in (2, 3):
            for c in (self.o, self.s):
                reply = c.call("HELLO", proto)
                self.assertIn(reply[:1], (b"*", b"%"), "HELLO %d on port %d" % (proto, c.port))
                self.assertEqual(c.call("FLUSHALL"), b"+OK\r\n")
            self.proto = proto
            yield proto
        self.proto = 2
        for c in (self.o, self.s):
            c.call("HELLO", 2)

    def zadd_many(self, key, n, score=lambda i: i, member=lambda i: "m%d" % i):
        for c in (self.o, self.s):
            args = ["ZADD", key]
            for i in range(n):
                args += [repr(float(score(i))), member(i)]
            self.assertEqual(c.call(*args), b":%d\r\n" % n)

    def scan_all(self, conn, key, *opts):
        """A whole ZSCAN iteration: {member: score text} and the calls made."""
        cursor, seen, calls = b"0", {}, 0
        while True:
            reply = decode(conn.call("ZSCAN", key, cursor, *opts))
            cursor, items = reply
            for i in range(0, len(items), 2):
                seen[items[i]] = items[i + 1]
            calls += 1
            if cursor == b"0" or calls > 10000:
                return seen, calls


# --------------------------------------------------------------------------
# Sorted-set replies
# --------------------------------------------------------------------------

class ZsetReplies(ZsetTestCase):

    def test_zadd_options_and_zincrby(self):
        for _ in self.protocols():
            self.same("ZADD", "z", "1", "a", "2", "b", "3", "c")
            self.same("ZADD", "z", "NX", "10", "a", "4", "d")
            self.same("ZADD", "z", "XX", "10", "a", "5", "e")
            self.same("ZADD", "z", "XX", "CH", "11", "a", "5", "e")
            self.same("ZADD", "z", "GT", "CH", "1", "a", "20", "b")
            self.same("ZADD", "z", "LT", "CH", "1", "a", "20", "c", "0", "new")
            self.same("ZADD", "z", "CH", "1", "a", "1", "a", "2", "a")
            self.same("ZADD", "z", "INCR", "2.5", "a")
            self.same("ZADD", "z", "INCR", "NX", "1", "a")        # nil: exists
            self.same("ZADD", "z", "INCR", "XX", "1", "nosuch")   # nil: missing
            self.same("ZADD", "z", "INCR", "GT", "-1", "a")       # nil: not greater
            self.same("ZADD", "z", "INCR", "LT", "-1", "a")
            self.same("ZADD", "z", "incr", "ch", "gt", "0.5", "b")
            self.same("ZADD", "xxkey", "XX", "1", "a")            # no key created
            self.same("EXISTS", "xxkey")
            self.same("ZINCRBY", "z", "1.5", "a")
            self.same("ZINCRBY", "z", "-inf", "a")
            self.same("ZINCRBY", "z", "+inf", "a")                # -inf + inf: NaN
            self.same("ZINCRBY", "fresh", "7", "m")
            self.same("ZADD", "z", "inf", "i", "-inf", "ni", "1e300", "h", "1e-300", "t",
                      "0.1", "p1", "0.30000000000000004", "p3", "123456789012345678", "l",
                      "1e17", "e17", "4611686018427387904", "two62", "-9.5", "neg")
            self.same("ZRANGE", "z", "0", "-1", "WITHSCORES")
            self.same("ZSCORE", "z", "p1")
            self.same("ZMSCORE", "z", "i", "ni", "nosuch", "p3")

    def test_zadd_errors_in_redis_order(self):
        self.same("SET", "str", "x")
        for args in (["z", "1"], ["z", "1", "a", "2"], ["z", "NX", "XX", "1", "a"],
                     ["z", "GT", "LT", "1", "a"], ["z", "NX", "GT", "1", "a"],
                     ["z", "INCR", "1", "a", "2", "b"], ["z", "x", "a"], ["z", "nan", "a"],
                     ["z", "1e400", "a"], ["z", "1e-400", "a"], ["z", " 1", "a"],
                     ["z", "1 ", "a"], ["z", "", "a"], ["z", "1\x00", "a"],
                     ["str", "1", "a"], ["str", "x", "a"], ["str", "NX", "XX", "1", "a"],
                     ["z", "CH", "CH"], ["z", "INCR"]):
            self.same("ZADD", *args)
        # Scores strtod reads, which Redis takes as they come.
        self.same("ZADD", "z", "0x10", "hex", "4e-320", "denormal", "+5", "plus", ".5", "dot",
                  "5.", "dot2", "-0", "negzero", "INF", "upper", "Infinity", "word")
        self.same("ZRANGE", "z", "0", "-1", "WITHSCORES")
        for args in (["z", "nx", "a"], ["z", "x", "a"], ["z", "1", "a", "b"], ["str", "1", "a"]):
            self.same("ZINCRBY", *args)

    def test_reads(self):
        for _ in self.protocols():
            self.same("ZADD", "z", "1", "a", "2", "b", "2", "bb", "3", "c", "-1", "neg")
            self.same("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "", "0", "e")
            for m in ("a", "bb", "neg", "nosuch", ""):
                self.same("ZSCORE", "z", m)
                self.same("ZRANK", "z", m)
                self.same("ZREVRANK", "z", m)
            self.same("ZMSCORE", "z", "a", "nosuch", "c", "a")
            self.same("ZMSCORE", "nokey", "a", "b")
            self.same("ZSCORE", "nokey", "a")
            self.same("ZRANK", "nokey", "a")
            self.same("ZCARD", "z")
            self.same("ZCARD", "nokey")
            for lo, hi in (("-inf", "+inf"), ("(1", "3"), ("1", "(3"), ("(2", "(2"), ("2", "2"),
                           ("3", "1"), ("", "("), ("-inf", "-inf"), ("(-inf", "+inf"),
                           ("1e400", "+inf"), ("-1e400", "0x2"), (" 1", "2"), ("1\x00x", "5")):
                self.same("ZCOUNT", "z", lo, hi)
            for lo, hi in (("-", "+"), ("[b", "[d"), ("(b", "(d"), ("+", "-"), ("[", "+"),
                           ("(", "+"), ("-", "[c"), ("[c", "[c"), ("(c", "[c"), ("[d", "[b"),
                           ("-\x00", "+")):
                self.same("ZLEXCOUNT", "lex", lo, hi)
            self.same("ZCOUNT", "nokey", "0", "1")
            self.same("ZLEXCOUNT", "nokey", "-", "+")
            self.same("TYPE", "z")
            self.same("OBJECT", "ENCODING", "z")

    def test_range_and_rank_errors(self):
        self.same("ZADD", "z", "1", "a")
        self.same("SET", "str", "x")
        for args in (["ZCOUNT", "z", "x", "1"], ["ZCOUNT", "z", "1", "nan"],
                     ["ZCOUNT", "z", "((1", "2"], ["ZCOUNT", "str", "1", "2"],
                     ["ZCOUNT", "str", "x", "2"], ["ZLEXCOUNT", "z", "a", "+"],
                     ["ZLEXCOUNT", "z", "-", ""], ["ZLEXCOUNT", "z", "-x", "+"],
                     ["ZLEXCOUNT", "z", "++", "+"], ["ZLEXCOUNT", "str", "-", "+"],
                     ["ZRANK", "z", "a", "b", "c"], ["ZRANK", "z"], ["ZRANK", "str", "a"],
                     ["ZSCORE", "str", "a"], ["ZMSCORE", "str", "a"], ["ZCARD", "str"],
                     ["ZMSCORE", "z"]):
            self.same(*args)

    def test_zrank_withscore(self):
        """7.2 only: [rank, score], or a null array; checked against the
        oracle's ZRANK and ZSCORE (a double in RESP3)."""
        self.skip_if_redis_subject("ZRANK WITHSCORE")
        for proto in self.protocols():
            self.same("ZADD", "z", "1.5", "a", "2", "b", "1e17", "c", "1.1", "d")
            for cmd in ("ZRANK", "ZREVRANK"):
                for m in ("a", "c", "d", "nosuch"):
                    rank = decode(self.o.call(cmd, "z", m))
                    if rank is None:
                        expected = b"*-1\r\n" if proto == 2 else b"_\r\n"
                    else:
                        expected = b"*2\r\n:%d\r\n" % rank + norm72(self.o.call("ZSCORE", "z", m))
                    for word in ("WITHSCORE", "withscore"):
                        self.assertEqual(self.s.call(cmd, "z", m, word), expected, (cmd, m, proto))
            self.assertEqual(self.s.call("ZRANK", "nokey", "a", "WITHSCORE"),
                             b"*-1\r\n" if proto == 2 else b"_\r\n")
            self.assertEqual(self.s.call("ZRANK", "z", "a", "WITHSCORES"),
                             b"-ERR syntax error\r\n")
            self.assertEqual(self.s.call("ZREVRANK", "z", "a", "WITHSCORE", "x"),
                             b"-ERR wrong number of arguments for 'zrevrank' command\r\n")

    def test_zrange_family(self):
        for _ in self.protocols():
            self.same("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "5", "f")
            self.same("ZADD", "lex", "0", "alpha", "0", "bravo", "0", "charlie", "0", "delta",
                      "0", "echo", "0", "")
            for start, stop in (("0", "-1"), ("1", "3"), ("-2", "-1"), ("-100", "100"),
                                ("3", "1"), ("10", "20"), ("-1", "-10")):
                self.same("ZRANGE", "z", start, stop)
                self.same("ZRANGE", "z", start, stop, "WITHSCORES")
                self.same("ZRANGE", "z", start, stop, "REV", "withscores")
                self.same("ZREVRANGE", "z", start, stop, "WITHSCORES")
            for lo, hi in (("-inf", "+inf"), ("(1", "4"), ("2", "(5"), ("5", "5"), ("(5", "5"),
                           ("4", "2"), ("", "3")):
                self.same("ZRANGEBYSCORE", "z", lo, hi)
                self.same("ZRANGEBYSCORE", "z", lo, hi, "WITHSCORES", "LIMIT", "1", "2")
                self.same("ZREVRANGEBYSCORE", "z", hi, lo, "WITHSCORES")
                self.same("ZRANGE", "z", lo, hi, "BYSCORE", "LIMIT", "0", "3", "WITHSCORES")
                self.same("ZRANGE", "z", hi, lo, "BYSCORE", "REV", "LIMIT", "1", "-1")
            for offset, count in (("-1", "2"), ("1", "-5"), ("1", "0"), ("6", "1"), ("5", "5"),
                                  ("0", "-1")):
                self.same("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", offset, count)
                self.same("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", offset, count)
            for lo, hi in (("-", "+"), ("[bravo", "(delta"), ("(alpha", "[echo"), ("+", "-"),
                           ("[", "[charlie"), ("(", "+"), ("[zulu", "+")):
                self.same("ZRANGEBYLEX", "lex", lo, hi)
                self.same("ZREVRANGEBYLEX", "lex", hi, lo)
                self.same("ZRANGE", "lex", lo, hi, "BYLEX", "LIMIT", "1", "2")
                self.same("ZRANGE", "lex", hi, lo, "BYLEX", "REV")
            self.same("ZRANGE", "nokey", "0", "-1", "WITHSCORES")
            self.same("ZRANGE", "nokey", "(1", "2", "BYSCORE")
            self.same("ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1")  # LIMIT with count -1 passes

    def test_zrange_errors(self):
        self.same("ZADD", "z", "1", "a")
        self.same("SET", "str", "x")
        for args in (["z", "0", "-1", "LIMIT", "0", "1"], ["z", "a", "b", "BYLEX", "WITHSCORES"],
                     ["z", "0", "-1", "BYSCORE", "BYSCORE"], ["z", "0", "-1", "BYSCORE", "BYLEX"],
                     ["z", "0", "-1", "REV", "REV"], ["z", "a", "b"], ["z", "0", "1.5"],
                     ["z", "0", "-1", "LIMIT"], ["z", "0", "-1", "LIMIT", "1"],
                     ["z", "0", "-1", "BYSCORE", "LIMIT", "x", "1"], ["z", "x", "1", "BYSCORE"],
                     ["z", "a", "+", "BYLEX"], ["z", "0", "-1", "FOO"], ["str", "0", "-1"],
                     ["str", "x", "-1"], ["str", "0", "-1", "BYSCORE"]):
            self.same("ZRANGE", *args)
        for args in (["ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"],
                     ["ZRANGEBYSCORE", "z", "0", "1", "REV"],
                     ["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
                     ["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"],
                     ["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"],
                     ["ZRANGESTORE", "dst", "str", "0", "-1"]):
            self.same(*args)

    def test_zrangestore(self):
        for _ in self.protocols():
            self.same("ZADD", "src", "1", "a", "2", "b", "3", "c", "4", "d")
            self.same("SET", "dst", "x")
            self.same("EXPIRE", "dst", "1000")
            self.same("ZRANGESTORE", "dst", "src", "1", "2")
            self.same("TTL", "dst")                     # the TTL went with the old value
            self.same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
            self.same("ZRANGESTORE", "dst", "src", "(1", "+inf", "BYSCORE", "REV", "LIMIT", "0",
                      "2")
            self.same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
            self.same("ZRANGESTORE", "src", "src", "0", "1")  # onto itself
            self.same("ZRANGE", "src", "0", "-1", "WITHSCORES")
            self.same("ZRANGESTORE", "dst", "src", "5", "10")  # empty: dst deleted
            self.same("EXISTS", "dst")
            self.same("SET", "dst", "x")
            self.same("ZRANGESTORE", "dst", "nokey", "0", "-1")
            self.same("EXISTS", "dst")

    def test_removals(self):
        for _ in self.protocols():
            self.same("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
            self.same("ZREM", "z", "a", "a", "nosuch")
            self.same("ZREM", "nokey", "a")
            self.same("ZREMRANGEBYRANK", "z", "-1", "-1")
            self.same("ZREMRANGEBYRANK", "z", "5", "10")
            self.same("ZREMRANGEBYRANK", "z", "2", "1")
            self.same("ZREMRANGEBYSCORE", "z", "(2", "3")
            self.same("ZREMRANGEBYSCORE", "z", "10", "20")
            self.same("ZRANGE", "z", "0", "-1", "WITHSCORES")
            self.same("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d")
            self.same("ZREMRANGEBYLEX", "lex", "(a", "[c")
            self.same("ZRANGE", "lex", "0", "-1")
            self.same("ZREMRANGEBYLEX", "lex", "-", "+")  # empties it: the key goes
            self.same("EXISTS", "lex")
            self.same("ZREM", "z", "b")                  # the last member: the key goes
            self.same("EXISTS", "z")
            self.same("ZREMRANGEBYSCORE", "nokey", "-inf", "+inf")
            self.same("SET", "str", "x")
            for args in (["ZREMRANGEBYRANK", "z", "x", "1"], ["ZREMRANGEBYSCORE", "z", "x", "1"],
                         ["ZREMRANGEBYLEX", "z", "x", "+"], ["ZREMRANGEBYRANK", "str", "0", "1"],
                         ["ZREMRANGEBYRANK", "str", "x", "1"], ["ZREM", "str", "a"]):
                self.same(*args)

    def test_pops(self):
        for _ in self.protocols():
            self.same("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
            self.same("ZPOPMIN", "z")
            self.same("ZPOPMAX", "z")
            self.same("ZPOPMIN", "z", "0")
            self.same("ZPOPMAX", "z", "2")              # RESP3: pairs
            self.same("ZPOPMIN", "nokey")
            self.same("ZPOPMIN", "nokey", "3")
            self.same("ZADD", "z2", "9", "x", "8", "y")
            self.same("ZMPOP", "2", "nokey", "z2", "MAX")
            self.same("ZMPOP", "3", "nokey", "z", "z2", "min", "COUNT", "10")
            self.same("EXISTS", "z")
            self.same("ZMPOP", "1", "nokey", "MIN")
            self.same("ZPOPMIN", "z2", "100")
            self.same("EXISTS", "z2")
        self.same("SET", "str", "x")
        self.same("ZADD", "z", "1", "a")
        for args in (["ZPOPMIN", "z", "-1"], ["ZPOPMIN", "z", "x"], ["ZPOPMIN", "z", "1", "2"],
                     ["ZPOPMAX", "str"], ["ZMPOP", "0", "z", "MIN"], ["ZMPOP", "x", "z", "MIN"],
                     ["ZMPOP", "5", "z", "MIN"], ["ZMPOP", "1", "z", "FOO"],
                     ["ZMPOP", "1", "z", "MIN", "COUNT", "0"],
                     ["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"],
                     ["ZMPOP", "1", "z", "MIN", "COUNT"], ["ZMPOP", "2", "str", "z", "MIN"],
                     ["ZMPOP", "2", "z", "str", "MIN"]):
            self.same(*args)

    def test_set_operations(self):
        for _ in self.protocols():
            self.same("ZADD", "z1", "1", "a", "2", "b", "3", "c", "inf", "i")
            self.same("ZADD", "z2", "10", "b", "20", "c", "30", "d", "-inf", "i")
            self.same("SADD", "set", "a", "d", "x", "1")
            self.same("SADD", "ints", "1", "2", "3")
            for op in ("ZUNION", "ZINTER", "ZDIFF"):
                self.same(op, "2", "z1", "z2")
                self.same(op, "2", "z1", "z2", "WITHSCORES")
                self.same(op, "3", "z1", "set", "z2", "WITHSCORES")  # a set scores 1
                self.same(op, "2", "z1", "nokey", "WITHSCORES")
                self.same(op, "1", "ints", "WITHSCORES")
                self.same(op, "2", "z1", "z1", "WITHSCORES")
            for agg in ("SUM", "MIN", "MAX", "min"):
                self.same("ZUNION", "2", "z1", "z2", "WEIGHTS", "2", "0.5", "AGGREGATE", agg,
                          "WITHSCORES")
                self.same("ZINTER", "2", "z1", "z2", "AGGREGATE", agg, "WITHSCORES")
            self.same("ZUNION", "2", "z1", "z2", "WEIGHTS", "0", "inf", "WITHSCORES")
            self.same("ZINTER", "2", "z1", "z2", "WEIGHTS", "inf", "-inf", "WITHSCORES")
            self.same("ZUNIONSTORE", "out", "2", "z1", "z2", "WEIGHTS", "1", "2")
            self.same("ZRANGE", "out", "0", "-1", "WITHSCORES")
            self.same("ZINTERSTORE", "out", "2", "z1", "set")
            self.same("ZRANGE", "out", "0", "-1", "WITHSCORES")
            self.same("ZDIFFSTORE", "out", "2", "z1", "z2")
            self.same("ZRANGE", "out", "0", "-1", "WITHSCORES")
            self.same("ZINTERSTORE", "out", "2", "z1", "nokey")   # empty: out deleted
            self.same("EXISTS", "out")
            self.same("ZUNIONSTORE", "z1", "2", "z1", "z2")       # onto a source
            self.same("ZRANGE", "z1", "0", "-1", "WITHSCORES")
            self.same("ZINTERCARD", "2", "z1", "z2")
            self.same("ZINTERCARD", "2", "z1", "z2", "LIMIT", "1")
            self.same("ZINTERCARD", "2", "z1", "z2", "LIMIT", "0")
            self.same("ZINTERCARD", "2", "set", "set")

    def test_set_operation_errors(self):
        self.same("ZADD", "z", "1", "a")
        self.same("SET", "str", "x")
        for args in (["ZUNION", "0", "z"], ["ZINTER", "-1", "z"], ["ZDIFF", "x", "z"],
                     ["ZUNION", "2", "z"], ["ZUNION", "2", "z", "str"],
                     ["ZUNION", "2", "z", "str", "WEIGHTS", "x"],
                     ["ZUNION", "1", "z", "WEIGHTS"], ["ZUNION", "2", "z", "z", "WEIGHTS", "1"],
                     ["ZUNION", "2", "z", "z", "WEIGHTS", "1", "x"],
                     ["ZUNION", "2", "z", "z", "WEIGHTS", "1", "nan"],
                     ["ZUNION", "1", "z", "AGGREGATE"], ["ZUNION", "1", "z", "AGGREGATE", "avg"],
                     ["ZUNION", "1", "z", "FOO"], ["ZDIFF", "1", "z", "WEIGHTS", "1"],
                     ["ZDIFF", "1", "z", "AGGREGATE", "SUM"], ["ZUNIONSTORE", "d", "0", "z"],
                     ["ZUNIONSTORE", "d", "1", "z", "WITHSCORES"],
                     ["ZINTERSTORE", "d", "2", "z", "str"], ["ZDIFFSTORE", "d", "x", "z"],
                     ["ZINTERCARD", "0", "z"], ["ZINTERCARD", "2", "z"],
                     ["ZINTERCARD", "1", "z", "LIMIT", "-1"], ["ZINTERCARD", "1", "z", "LIMIT", "x"],
                     ["ZINTERCARD", "1", "z", "LIMIT"], ["ZINTERCARD", "1", "z", "WITHSCORES"],
                     ["ZINTERCARD", "1", "z", "AGGREGATE", "SUM"], ["ZINTERCARD", "1", "str"]):
            self.same(*args)

    def test_zrandmember(self):
        """Deterministic shapes are compared exactly; random picks by
        shape, each member and score checked against the set."""
        for proto in self.protocols():
            self.same("ZRANDMEMBER", "nokey")
            for count in ("0", "1", "-1", "5", "-5"):
                self.same("ZRANDMEMBER", "nokey", count)
                self.same("ZRANDMEMBER", "nokey", count, "WITHSCORES")
            self.same("ZADD", "one", "1.5", "only")
            self.same("ZRANDMEMBER", "one")
            for count in ("1", "2", "-1", "-3", "100"):
                self.same("ZRANDMEMBER", "one", count, "WITHSCORES")
            self.same("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
            self.same("ZRANDMEMBER", "z", "5")                 # the whole set, from the top
            self.same("ZRANDMEMBER", "z", "100", "WITHSCORES")
            scores = {b"a": 1.0, b"b": 2.0, b"c": 3.0, b"d": 4.0, b"e": 5.0}
            for count in (2, 4, -3, -20):
                for withscores in (False, True):
                    args = ["ZRANDMEMBER", "z", str(count)] + (["WITHSCORES"] if withscores else [])
                    reply = decode(self.s.call(*args))
                    n = abs(count)
                    if withscores and proto == 2:
                        self.assertEqual(len(reply), 2 * n, args)
                        picks = [(reply[i], float(reply[i + 1])) for i in range(0, len(reply), 2)]
                    elif withscores:
                        self.assertEqual(len(reply), n, args)
                        picks = [(m, s) for m, s in reply]
                    else:
                        self.assertEqual(len(reply), n, args)
                        picks = [(m, scores.get(m)) for m in reply]
                    for member, score in picks:
                        self.assertEqual(scores.get(member), score, args)
                    if count > 0:
                        self.assertEqual(len({m for m, _ in picks}), n, "distinct: %r" % args)
            for args in (["z", "x"], ["z", "1", "WITHSCORE"], ["z", "1", "WITHSCORES", "x"],
                         ["z", "-9223372036854775808"],
                         ["z", "9223372036854775807", "WITHSCORES"]):
                self.same("ZRANDMEMBER", *args)

    def test_zscan(self):
        for _ in self.protocols():
            self.same("ZADD", "small", "1.1", "a", "2", "b", "1e17", "c", "-0", "z")
            self.same("ZSCAN", "small", "0")               # a listpack: everything, in order
            self.same("ZSCAN", "small", "0", "MATCH", "[ab]", "COUNT", "1")
            self.same("ZSCAN", "nokey", "0", "COUNT", "0")  # options unread without a key
            for args in (["small", "x"], ["small", "0", "COUNT", "0"], ["small", "0", "MATCH"],
                         ["small", "0", "FOO", "1"], ["small", "-1"]):
                self.same("ZSCAN", *args)
            self.zadd_many("big", 300, score=lambda i: i / 7)
            for opts in ([], ["COUNT", "13"], ["MATCH", "m1*", "COUNT", "5"]):
                seen_o, _ = self.scan_all(self.o, "big", *opts)
                seen_s, _ = self.scan_all(self.s, "big", *opts)
                seen_o = {m: _respell(s) for m, s in seen_o.items()}
                if harness.redis_as_subject():
                    seen_s = {m: _respell(s) for m, s in seen_s.items()}
                self.assertEqual(seen_s, seen_o, "ZSCAN big %r" % opts)

    def test_wrongtype_both_ways(self):
        self.same("SET", "str", "x")
        self.same("ZADD", "z", "1", "a")
        for args in (["ZADD", "str", "1", "a"], ["ZSCORE", "str", "a"], ["ZRANGE", "str", "0", "1"],
                     ["ZPOPMIN", "str"], ["ZRANDMEMBER", "str"], ["ZSCAN", "str", "0"],
                     ["ZINCRBY", "str", "1", "a"], ["GET", "z"], ["SADD", "z", "a"],
                     ["LPUSH", "z", "a"], ["HSET", "z", "a", "b"], ["GEOADD", "str", "1", "1", "a"],
                     ["GEOPOS", "str", "a"], ["GEOSEARCH", "str", "FROMLONLAT", "1", "1",
                                              "BYRADIUS", "1", "km"]):
            self.assertEqual(self.same(*args), WRONGTYPE, args)
        self.same("TYPE", "z")

    def test_negative_zero(self):
        """Redis keeps a listpack's zero score as the integer 0 (-0 reads
        back 0); a skiplist keeps -0."""
        for _ in self.protocols():
            self.same("ZADD", "lp", "-0", "a", "0", "b", "-0.0", "c")
            self.same("ZRANGE", "lp", "0", "-1", "WITHSCORES")
            self.same("ZSCORE", "lp", "a")
            self.same("ZADD", "lp", "1", "x", "-0", "x")
            self.same("ZSCORE", "lp", "x")
            for c in (self.o, self.s):
                c.call("CONFIG", "SET", "zset-max-listpack-entries", "0")
            self.same("ZADD", "sl", "-0", "a", "0", "b")
            self.same("ZSCORE", "sl", "a")
            self.same("OBJECT", "ENCODING", "sl")
            for c in (self.o, self.s):
                c.call("CONFIG", "SET", "zset-max-listpack-entries", "128")


# --------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------

class EncodingThresholds(ZsetTestCase):

    def encoding(self, key):
        return decode(self.same("OBJECT", "ENCODING", key))

    def test_entries_and_value_length(self):
        self.zadd_many("z", 128)
        self.assertEqual(self.encoding("z"), b"listpack")
        self.same("ZADD", "z", "1000", "one-more")
        self.assertEqual(self.encoding("z"), b"skiplist")
        self.same("ZREMRANGEBYRANK", "z", "0", "-3")
        self.assertEqual(self.encoding("z"), b"skiplist")  # never back
        self.same("ZADD", "long", "1", "x" * 64)
        self.assertEqual(self.encoding("long"), b"listpack")
        self.same("ZADD", "long", "2", "y" * 65)
        self.assertEqual(self.encoding("long"), b"skiplist")
        self.same("ZADD", "first-long", "1", "y" * 65, "2", "short")
        self.assertEqual(self.encoding("first-long"), b"skiplist")
        # Computed sets are listpacks when they fit, as in Redis.
        self.same("ZUNIONSTORE", "u", "1", "z")
        self.assertEqual(self.encoding("u"), b"listpack")
        self.same("ZRANGESTORE", "r", "long", "0", "0")
        self.assertEqual(self.encoding("r"), b"listpack")
        self.same("ZRANGESTORE", "r", "long", "0", "-1")
        self.assertEqual(self.encoding("r"), b"skiplist")

    def test_config_set(self):
        for c in (self.o, self.s):
            c.call("CONFIG", "SET", "zset-max-ziplist-entries", "4")
            c.call("CONFIG", "SET", "zset-max-listpack-value", "3")
        self.same("CONFIG", "GET", "zset-max-listpack-entries")
        self.same("CONFIG", "GET", "zset-max-ziplist-value")
        self.same("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
        self.assertEqual(self.encoding("z"), b"listpack")
        self.same("ZADD", "z", "5", "e")
        self.assertEqual(self.encoding("z"), b"skiplist")
        self.same("ZADD", "v", "1", "abc")
        self.assertEqual(self.encoding("v"), b"listpack")
        self.same("ZADD", "v", "1", "abcd")
        self.assertEqual(self.encoding("v"), b"skiplist")

    def test_zadd_size_hint_is_redis_72(self):
        """Redis 7.2 (t_zset.c zsetTypeCreate/zsetTypeMaybeConvert): a ZADD
        of more pairs than zset-max-listpack-entries makes a skiplist even
        when fewer members result; 7.0 (the oracle) keeps a listpack."""
        self.skip_if_redis_subject("ZADD's size hint")
        self.s.call("CONFIG", "SET", "zset-max-listpack-entries", "4")
        self.assertEqual(self.s.call("ZADD", "new", "1", "a", "2", "a", "3", "a", "4", "a", "5", "a"),
                         b":1\r\n")
        self.assertEqual(self.s.call("OBJECT", "ENCODING", "new"), b"$8\r\nskiplist\r\n")
        self.assertEqual(self.s.call("ZADD", "old", "1", "a"), b":1\r\n")
        self.assertEqual(self.s.call("ZADD", "old", *(["2", "a"] * 5)), b":0\r\n")
        self.assertEqual(self.s.call("OBJECT", "ENCODING", "old"), b"$8\r\nskiplist\r\n")
        self.assertEqual(self.s.call("ZSCORE", "old", "a"), b"$1\r\n2\r\n")


# --------------------------------------------------------------------------
# Geo
# --------------------------------------------------------------------------

SICILY = ["13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]


class GeoReplies(ZsetTestCase):

    def test_geoadd_and_reads(self):
        for _ in self.protocols():
            self.same("GEOADD", "Sicily", *SICILY)
            self.same("GEOADD", "Sicily", "CH", "13.361389", "38.115556", "Palermo", "15", "37",
                      "Catania", "12.5", "37.8", "Marsala")
            self.same("GEOADD", "Sicily", "NX", "1", "1", "Marsala", "2", "2", "New")
            self.same("GEOADD", "Sicily", "XX", "CH", "1", "1", "New", "3", "3", "Nope")
            self.same("GEOADD", "edges", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw",
                      "0", "0", "origin", "-0.0000001", "0.0000001", "tiny")
            self.same("ZRANGE", "Sicily", "0", "-1", "WITHSCORES")
            self.same("ZRANGE", "edges", "0", "-1", "WITHSCORES")
            self.same("GEOPOS", "Sicily", "Palermo", "Catania", "nosuch", "New")
            self.same("GEOPOS", "edges", "ne", "sw", "origin", "tiny")
            self.same("GEOPOS", "nokey", "a", "b")
            self.same("GEOPOS", "Sicily")
            self.same("GEOHASH", "Sicily", "Palermo", "Catania", "nosuch")
            self.same("GEOHASH", "edges", "ne", "sw", "origin", "tiny")
            self.same("GEOHASH", "nokey", "a")
            for unit in ([], ["m"], ["km"], ["mi"], ["ft"], ["KM"]):
                self.same("GEODIST", "Sicily", "Palermo", "Catania", *unit)
                self.same("GEODIST", "edges", "ne", "sw", *unit)
            self.same("GEODIST", "Sicily", "Palermo", "Palermo")
            self.same("GEODIST", "Sicily", "Palermo", "nosuch")
            self.same("GEODIST", "nokey", "a", "b")
            # Scores no GEOADD wrote decode as Redis decodes them.
            self.same("ZADD", "odd", "-1", "neg", "9007199254740992", "big", "inf", "pinf", "-inf",
                      "ninf", "4503599627370495", "max52")
            self.same("GEOPOS", "odd", "neg", "big", "pinf", "ninf", "max52")
            self.same("GEOHASH", "odd", "neg", "big", "pinf", "ninf", "max52")

    def test_geo_errors(self):
        self.same("GEOADD", "Sicily", *SICILY)
        self.same("SET", "str", "x")
        for args in (["GEOADD", "g", "200", "100", "x"], ["GEOADD", "g", "1", "85.06", "x"],
                     ["GEOADD", "g", "x", "1", "a"], ["GEOADD", "g", "1", "x", "a"],
                     ["GEOADD", "g", "1", "2"], ["GEOADD", "g", "NX", "XX", "1", "1", "a"],
                     ["GEOADD", "g", "CH", "NX", "CH"], ["GEOADD", "g", "GT", "1", "1", "a"],
                     ["GEOADD", "g", "1", "1", "a", "200", "1", "b"],
                     ["GEODIST", "Sicily", "Palermo", "Catania", "parsec"],
                     ["GEODIST", "Sicily", "Palermo", "Catania", "km", "x"],
                     ["GEODIST", "str", "a", "b"], ["GEOHASH", "str"], ["GEOPOS", "str", "a"]):
            self.same(*args)
        self.same("EXISTS", "g")

    def test_searches(self):
        for _ in self.protocols():
            self.same("GEOADD", "Sicily", *SICILY)
            self.same("GEOADD", "Sicily", "12.5", "37.8", "Marsala", "14.25", "40.83", "Naples",
                      "16.87", "41.12", "Bari")
            for opts in ([], ["WITHDIST"], ["WITHCOORD"], ["WITHHASH"],
                         ["WITHDIST", "WITHCOORD", "WITHHASH"], ["ASC"], ["DESC", "WITHDIST"],
                         ["COUNT", "2"], ["COUNT", "2", "DESC"], ["COUNT", "1", "ANY"],
                         ["COUNT", "10", "ANY", "ASC"]):
                self.same("GEORADIUS", "Sicily", "15", "37", "300", "km", *opts)
                self.same("GEORADIUS_RO", "Sicily", "15", "37", "200", "mi", *opts)
                self.same("GEORADIUSBYMEMBER", "Sicily", "Palermo", "250", "km", *opts)
                self.same("GEORADIUSBYMEMBER_RO", "Sicily", "Naples", "400000", "m", *opts)
                self.same("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "300",
                          "km", *opts)
                self.same("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "400", "600",
                          "km", *opts)
            self.same("GEORADIUS", "Sicily", "15", "37", "0", "km")
            self.same("GEORADIUS", "Sicily", "15", "37", "inf", "km", "WITHDIST")
            self.same("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYBOX", "40000", "40000",
                      "km", "ASC")
            self.same("GEORADIUS", "nokey", "15", "37", "300", "km")
            self.same("GEORADIUSBYMEMBER", "nokey", "x", "300", "km", "WITHDIST")
            self.same("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km")

    def test_stores(self):
        for _ in self.protocols():
            self.same("GEOADD", "Sicily", *SICILY)
            self.same("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst")
            self.same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
            self.same("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "dst", "DESC")
            self.same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
            self.same("GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "COUNT", "1",
                      "STORE", "dst")
            self.same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
            self.same("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400",
                      "400", "km", "STOREDIST")
            self.same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
            self.same("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS",
                      "1", "m")                                 # nothing: dst deleted
            self.same("EXISTS", "dst")
            self.same("SET", "dst", "x")
            self.same("GEORADIUS", "nokey", "15", "37", "200", "km", "STORE", "dst")
            self.same("EXISTS", "dst")
            self.same("SET", "dst", "x")
            self.same("GEOSEARCHSTORE", "dst", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km")
            self.same("EXISTS", "dst")

    def test_search_errors(self):
        self.same("GEOADD", "Sicily", *SICILY)
        self.same("SET", "str", "x")
        base = ["GEOSEARCH", "Sicily"]
        for args in (["GEORADIUS", "Sicily", "15", "37", "-1", "km"],
                     ["GEORADIUS", "Sicily", "15", "37", "x", "km"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "parsec"],
                     ["GEORADIUS", "Sicily", "181", "37", "1", "km"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "0"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "x"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE", "d", "WITHDIST"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE"],
                     ["GEORADIUS", "Sicily", "15", "37", "1", "km", "FOO"],
                     ["GEORADIUS_RO", "Sicily", "15", "37", "1", "km", "STORE", "d"],
                     ["GEORADIUS", "nokey", "15", "37", "-1", "km"],
                     ["GEORADIUS", "str", "15", "37", "-1", "km"],
                     ["GEORADIUSBYMEMBER", "Sicily", "nosuch", "1", "km"],
                     ["GEORADIUSBYMEMBER", "nokey", "nosuch", "-1", "km", "FOO"],
                     ["GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "1", "km", "STOREDIST", "d"],
                     base + ["BYRADIUS", "1", "km"], base + ["FROMLONLAT", "15", "37"],
                     ["geosearch", "Sicily", "fromlonlat", "15", "37"],
                     base + ["FROMMEMBER", "Palermo", "FROMLONLAT", "15", "37", "BYRADIUS", "1",
                             "km"],
                     base + ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1", "1",
                             "km"],
                     base + ["FROMMEMBER", "nosuch", "BYRADIUS", "1", "km"],
                     base + ["FROMLONLAT", "15", "37", "BYBOX", "-1", "1", "km"],
                     base + ["FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"],
                     base + ["FROMLONLAT", "15", "37", "BYBOX", "1", "x", "km"],
                     base + ["FROMLONLAT", "15", "37", "BYBOX", "1", "1", "x"],
                     base + ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STORE", "d"],
                     base + ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STOREDIST"],
                     base + ["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "ANY"],
                     ["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1",
                      "km", "WITHDIST"],
                     ["GEOSEARCHSTORE", "d", "str", "FROMLONLAT", "15", "37", "BYRADIUS", "1",
                      "km"]):
            self.same(*args)

    def test_random_searches(self):
        """Seeded random points (clusters, the antimeridian, the latitude
        limits) and searches of every shape and size: every reply the
        same, byte for byte."""
        rnd = random.Random(int(os.environ.get("CAUSALKV_TEST_SEED", "20261203")))

        def coord():
            k = rnd.random()
            lon = rnd.choice([-180, 180, 179.9999, -179.9999, 0]) if k < 0.1 else \
                rnd.uniform(-180, 180)
            lat = rnd.choice([85.05112878, -85.05112878, 85, -85, 0, 80.5, -66.2]) if k > 0.9 \
                else rnd.uniform(-85.05112878, 85.05112878)
            return "%.6f" % lon, "%.6f" % lat

        centres = [coord() for _ in range(5)]
        args = ["GEOADD", "g"]
        for i in range(300):
            if rnd.random() < 0.7:
                clon, clat = centres[rnd.randrange(5)]
                lon = max(-180, min(180, float(clon) + rnd.gauss(0, 2)))
                lat = max(-85.05, min(85.05, float(clat) + rnd.gauss(0, 2)))
                args += ["%.6f" % lon, "%.6f" % lat, "m%d" % i]
            else:
                args += list(coord()) + ["m%d" % i]
        self.same_ok(*args)
        self.same("GEOHASH", "g", *["m%d" % i for i in range(300)])
        self.same("GEOPOS", "g", *["m%d" % i for i in range(300)])
        for _ in range(100):
            a, b = rnd.sample(range(300), 2)
            self.same("GEODIST", "g", "m%d" % a, "m%d" % b, rnd.choice(["m", "km", "mi", "ft"]))
        for _ in range(300):
            cmd = ["GEOSEARCH", "g"]
            if rnd.random() < 0.3:
                cmd += ["FROMMEMBER", "m%d" % rnd.randrange(300)]
            else:
                clon, clat = centres[rnd.randrange(5)] if rnd.random() < 0.5 else coord()
                cmd += ["FROMLONLAT", clon, clat]
            unit = rnd.choice(["m", "km", "mi", "ft"])
            size = 10 ** rnd.uniform(0, 7.3) / {"m": 1, "km": 1000, "mi": 1609.34, "ft": 0.3048}[unit]
            if rnd.random() < 0.5:
                cmd += ["BYRADIUS", "%.3f" % size, unit]
            else:
                cmd += ["BYBOX", "%.3f" % size, "%.3f" % (size * rnd.uniform(0.2, 3)), unit]
            cmd += [o for o in ("WITHDIST", "WITHCOORD", "WITHHASH") if rnd.random() < 0.5]
            cmd += rnd.choice([[], [], ["ASC"], ["DESC"]])
            if rnd.random() < 0.2:
                cmd += ["COUNT", str(rnd.randint(1, 20))] + (["ANY"] if rnd.random() < 0.3 else [])
            self.same(*cmd)


# --------------------------------------------------------------------------
# Blocking pops, transactions, WATCH
# --------------------------------------------------------------------------

class Blocking(ZsetTestCase):

    def blocked_call(self, waiter, pusher, command, push):
        """`waiter` sends `command` and blocks; once it is blocked, `pusher`
        runs `push`; returns (waiter's reply, pusher's reply)."""
        waiter.send(encode_command(*command))
        time.sleep(0.3)  # the waiter is blocked by now (nothing to read yet)
        self.assertEqual(waiter.buf, bytearray())
        pushed = pusher.call(*push)
        return waiter.read_reply(), pushed

    def two_clients(self):
        extra = [RawConnection(self.oracle.port), RawConnection(self.server.port)]
        for c in extra:
            self.addCleanup(c.close)
        return extra

    def test_bzpopmin_across_two_clients(self):
        po, ps = self.two_clients()
        for proto in (2, 3):
            for c in (self.o, self.s):
                c.call("HELLO", proto)
            self.proto = proto
            got = [self.blocked_call(w, p, ["BZPOPMIN", "k1", "k2", "0"],
                                     ["ZADD", "k2", "5", "x", "3", "y"])
                   for w, p in ((self.o, po), (self.s, ps))]
            self.assertEqual(got[1], got[0])
            self.assertEqual(got[1][0], b"*3\r\n$2\r\nk2\r\n$1\r\ny\r\n"
                             + (b"$1\r\n3\r\n" if proto == 2 else b",3\r\n"))
            self.same("ZRANGE", "k2", "0", "-1", "WITHSCORES")
            got = [self.blocked_call(w, p, ["BZMPOP", "0", "2", "k3", "k4", "MAX", "COUNT", "2"],
                                     ["ZADD", "k4", "1", "a", "2", "b", "3", "c"])
                   for w, p in ((self.o, po), (self.s, ps))]
            self.assertEqual(got[1], got[0])
            got = [self.blocked_call(w, p, ["BZPOPMAX", "k5", "10"], ["ZADD", "k5", "1", "z"])
                   for w, p in ((self.o, po), (self.s, ps))]
            self.assertEqual(got[1], got[0])
            self.same("EXISTS", "k5")  # popped empty: the key went
            self.same("FLUSHALL")

    def test_timeout(self):
        for proto in (2, 3):
            for c in (self.o, self.s):
                c.call("HELLO", proto)
            self.proto = proto
            for cmd in (["BZPOPMIN", "nokey", "0.2"], ["BZPOPMAX", "a", "b", "0.2"],
                        ["BZMPOP", "0.2", "1", "nokey", "MIN"]):
                started = time.monotonic()
                o, s = self.both(*cmd)
                elapsed = time.monotonic() - started
                self.assertEqual(s, o, cmd)
                self.assertEqual(s, b"*-1\r\n" if proto == 2 else b"_\r\n")
                self.assertGreater(elapsed, 0.3, "both waited about 0.2 s")

    def test_nothing_to_pop_inside_multi(self):
        """A blocking pop that cannot block (inside MULTI) replies a null
        array; one with something to pop pops."""
        for _ in self.protocols():
            self.same("ZADD", "z", "1", "a")
            self.same("MULTI")
            for cmd in (["BZPOPMIN", "nokey", "0"], ["BZPOPMAX", "nokey", "z", "0"],
                        ["BZMPOP", "0", "1", "nokey", "MIN"], ["BZMPOP", "0", "1", "nokey", "MAX",
                                                               "COUNT", "3"]):
                self.same(*cmd)
            self.same("EXEC")

    def test_blocking_errors(self):
        self.same("SET", "str", "x")
        for args in (["BZPOPMIN", "z", "-1"], ["BZPOPMIN", "z", "x"], ["BZPOPMIN", "str", "0"],
                     ["BZPOPMIN", "nokey", "str", "0"], ["BZMPOP", "x", "1", "z", "MIN"],
                     ["BZMPOP", "x", "0", "z", "MIN"], ["BZMPOP", "0", "1", "z", "FOO"],
                     ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"],
                     ["BZMPOP", "0", "2", "nokey", "str", "MIN"], ["BZMPOP", "0", "5", "z", "MIN"]):
            self.same(*args)

    def test_watch_and_multi(self):
        other = self.two_clients()
        self.same("ZADD", "z", "1", "a")
        self.same("WATCH", "z")
        for c in other:
            self.assertEqual(c.call("ZINCRBY", "z", "1", "a"), b"$1\r\n2\r\n")
        self.same("MULTI")
        self.same("ZADD", "z", "10", "b")
        self.same("EXEC")  # aborted: z changed
        self.same("ZRANGE", "z", "0", "-1", "WITHSCORES")
        self.same("MULTI")
        self.same("ZADD", "z", "10", "b")
        self.same("ZADD", "z", "x", "c")
        self.same("ZPOPMIN", "z")
        self.same("GEOADD", "z", "1", "1", "p")
        self.same("EXEC")
        self.same("ZRANGE", "z", "0", "-1", "WITHSCORES")


# --------------------------------------------------------------------------
# A seeded random mix
# --------------------------------------------------------------------------

class RandomMix(ZsetTestCase):
    """Seeded random commands on a few keys, with small thresholds so that
    sets cross between encodings. Lex ranges only on a key whose members all
    have score 0: with mixed scores Redis's two encodings disagree."""

    SCORES = ["0", "1", "-1", "2", "3", "1.5", "0.1", "-2.25", "10", "100", "inf", "-inf", "+inf",
              "1e300", "1e-5", "3.3333333333333335", "0.30000000000000004", "-0", "1e17",
              "123456.789", "5", "7"]

    def run_mix(self, rnd, n):
        members = (["m%d" % i for i in range(30)] + ["long%d-" % i + "x" * 20 for i in range(3)]
                   + ["", "a", "b", "c"])
        keys = ["k1", "k2", "k3"]

        def sc():
            return rnd.choice(self.SCORES)

        def mem():
            return rnd.choice(members)

        def bound():
            return rnd.choice(["-inf", "+inf", "0", "1", "2", "5", "(1", "(2", "(5", "10", "(0",
                               "x", ""])

        def lexb():
            return rnd.choice(["-", "+", "[m1", "(m1", "[m2", "(m25", "[a", "(c", "[", "(", "x"])

        def opt(p, *words):
            return list(words) if rnd.random() < p else []

        for _ in range(n):
            k = rnd.choice(keys + keys + ["s1", "str", "nokey"])
            k2 = rnd.choice(keys + ["s1", "str", "nokey"])
            cmd = rnd.choice([
                lambda: ["ZADD", k] + rnd.sample(["NX", "XX", "GT", "LT", "CH"], rnd.randint(0, 2))
                + sum([[sc(), mem()] for _ in range(rnd.randint(1, 6))], []),
                lambda: ["ZADD", k, "INCR"] + rnd.sample(["NX", "XX", "GT", "LT"],
                                                         rnd.randint(0, 1)) + [sc(), mem()],
                lambda: ["ZINCRBY", k, sc(), mem()],
                lambda: ["ZREM", k, mem(), mem()],
                lambda: ["ZSCORE", k, mem()],
                lambda: ["ZMSCORE", k, mem(), mem()],
                lambda: ["ZRANK", k, mem()],
                lambda: ["ZREVRANK", k, mem()],
                lambda: ["ZCOUNT", k, bound(), bound()],
                lambda: ["ZADD", "lex"] + sum([["0", mem()] for _ in range(rnd.randint(1, 6))], []),
                lambda: ["ZLEXCOUNT", "lex", lexb(), lexb()],
                lambda: ["ZRANGE", "lex", lexb(), lexb(), "BYLEX"] + opt(.3, "REV")
                + opt(.4, "LIMIT", str(rnd.randint(-1, 5)), str(rnd.randint(-1, 5))),
                lambda: ["ZREMRANGEBYLEX", "lex", lexb(), lexb()],
                lambda: ["ZRANGE", k, str(rnd.randint(-10, 10)), str(rnd.randint(-10, 10))]
                + opt(.5, "WITHSCORES") + opt(.3, "REV"),
                lambda: ["ZRANGE", k, bound(), bound(), "BYSCORE"] + opt(.3, "REV")
                + opt(.4, "LIMIT", str(rnd.randint(-1, 5)), str(rnd.randint(-1, 5)))
                + opt(.5, "WITHSCORES"),
                lambda: ["ZRANGESTORE", k2, k, str(rnd.randint(-5, 5)), str(rnd.randint(-5, 5))],
                lambda: ["ZREMRANGEBYRANK", k, str(rnd.randint(-5, 5)), str(rnd.randint(-5, 5))],
                lambda: ["ZREMRANGEBYSCORE", k, bound(), bound()],
                lambda: [rnd.choice(["ZPOPMIN", "ZPOPMAX"]), k] + opt(.5, str(rnd.randint(0, 4))),
                lambda: ["ZMPOP", "2", k, k2, rnd.choice(["MIN", "MAX"])]
                + opt(.5, "COUNT", str(rnd.randint(1, 4))),
                lambda: [rnd.choice(["ZUNION", "ZINTER", "ZDIFF"]), "2", k, k2]
                + opt(.4, "WEIGHTS", sc(), sc())
                + opt(.4, "AGGREGATE", rnd.choice(["SUM", "MIN", "MAX"])) + opt(.5, "WITHSCORES"),
                lambda: [rnd.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), k2, "2", k,
                         rnd.choice(keys + ["s1", "nokey"])],
                lambda: ["ZINTERCARD", "2", k, k2] + opt(.5, "LIMIT", str(rnd.randint(0, 3))),
                lambda: ["ZRANDMEMBER", k, "100", "WITHSCORES"],
                lambda: ["OBJECT", "ENCODING", rnd.choice(keys + ["lex"])],
                lambda: ["SADD", "s1", mem(), mem()],
                lambda: ["SET", "str", "v"],
                lambda: ["DEL", k],
                lambda: ["ZCARD", k],
            ])()
            self.same(*cmd)

    def test_random_mix(self):
        seed = int(os.environ.get("CAUSALKV_TEST_SEED", "20261203"))
        for proto in self.protocols():
            for c in (self.o, self.s):
                c.call("CONFIG", "SET", "zset-max-listpack-entries", "16")
                c.call("CONFIG", "SET", "zset-max-listpack-value", "20")
            self.run_mix(random.Random(seed + proto), 1500)


# --------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------

class ZsetPersistence(unittest.TestCase):
    """The same writes on the server under test and on a redis-server with
    the same persistence options, a restart of both, and then each server's
    sorted sets as they were, and the two agreeing (doubles normalized)."""

    SCRIPT = [
        ["ZADD", "small", "1.1", "a", "2", "b", "-inf", "c", "1e17", "d"],
        ["ZINCRBY", "small", "0.2", "a"],
        ["ZADD", "lp-zero", "-0", "z"],
        # A skiplist a restart keeps (a member over zset-max-listpack-value),
        # with a -0 that it keeps too.
        ["ZADD", "sl-zero", "1", "y" * 65],
        ["ZADD", "sl-zero", "-0", "z"],
        ["ZADD", "ttl", "1", "a"],
        ["EXPIRE", "ttl", "1000"],
        ["GEOADD", "Sicily"] + SICILY,
        ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "dists"],
        ["ZUNIONSTORE", "union", "2", "small", "Sicily", "WEIGHTS", "1", "0.5"],
        ["SELECT", "2"],
        ["ZADD", "db2", "5", "five"],
        ["SELECT", "0"],
    ]
    KEYS = [(0, "small"), (0, "lp-zero"), (0, "sl-zero"), (0, "ttl"), (0, "Sicily"),
            (0, "dists"), (0, "union"), (2, "db2"), (0, "big")]

    def fill(self, c):
        for cmd in self.SCRIPT:
            reply = c.call(*cmd)
            self.assertFalse(reply.startswith(b"-"), "%r on port %d: %r" % (cmd, c.port, reply))
        args = ["ZADD", "big"]
        for i in range(500):
            args += [repr(i * 1.25), "member:%d" % i]
        self.assertEqual(c.call(*args), b":500\r\n")

    def snapshot(self, c):
        out = {}
        for db, key in self.KEYS:
            c.call("SELECT", db)
            out[(db, key)] = tuple(norm72(c.call(*cmd)) for cmd in (
                ["TYPE", key], ["OBJECT", "ENCODING", key], ["ZCARD", key],
                ["ZRANGE", key, "0", "-1", "WITHSCORES"]))
        c.call("SELECT", 0)
        ttl = decode(c.call("TTL", "ttl"))
        out["ttl"] = isinstance(ttl, int) and 900 <= ttl <= 1000
        out["geopos"] = c.call("GEOPOS", "Sicily", "Palermo", "Catania")
        return out

    def restart_and_compare(self, args, restart):
        ref = harness.start_redis_subject(*args)
        try:
            sub = harness.start_subject(*args)
        except BaseException:
            ref.kill9(remove_dir=True)
            raise
        dirs = (ref.dir, sub.dir)
        self.addCleanup(lambda: [shutil.rmtree(os.path.dirname(d), ignore_errors=True)
                                 for d in dirs])
        self.addCleanup(ref.kill9)
        self.addCleanup(sub.kill9)
        before = []
        for srv in (ref, sub):
            with RawConnection(srv.port) as c:
                self.fill(c)
                before.append(self.snapshot(c))
        self.assertEqual(before[1], before[0], "before the restart, causalkv against redis")
        after = []
        for srv in (ref, sub):
            new = restart(srv)
            self.addCleanup(new.kill9)
            with RawConnection(new.port) as c:
                after.append(self.snapshot(c))
        self.assertEqual(after[0], before[0], "redis across the restart")
        self.assertEqual(after[1], before[1], "the server under test across the restart")

    def test_save_and_restart(self):
        def restart(srv):
            with RawConnection(srv.port) as c:
                self.assertEqual(c.call("SAVE"), b"+OK\r\n", srv)
            srv.kill9()
            return (harness.start_redis_subject if srv.name.startswith("redis")
                    else harness.start_subject)(data_dir=srv.dir)
        self.restart_and_compare([], restart)

    def test_appendonly_always_survives_kill9(self):
        """The log must record every key a command writes: STOREDIST's and
        ZUNIONSTORE's destinations included."""
        args = ["--appendonly", "yes", "--appendfsync", "always"]

        def restart(srv):
            srv.kill9()
            return (harness.start_redis_subject if srv.name.startswith("redis")
                    else harness.start_subject)(*args, data_dir=srv.dir)
        self.restart_and_compare(args, restart)


if __name__ == "__main__":
    harness.main()
