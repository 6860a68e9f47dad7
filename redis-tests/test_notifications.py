#!/usr/bin/python3
"""Keyspace notifications (notify-keyspace-events) against a real
redis-server (Debian's 7.0.15) as the spec, plus causalkv's own events.

Each scenario sets the same notify-keyspace-events on both servers, starts a
subscriber (RESP2 or RESP3) on PSUBSCRIBE __key*__:*, runs the same command
corpus from another connection and compares, byte for byte, every reply and
the exact message frames each command produced. To know where one command's
events end, the subscriber also listens on a marker channel that the client
publishes to after every command: everything the subscriber reads before the
marker belongs to that command (pub/sub keeps a publisher's order).

Redis 7.0 and 7.2 agree on every event this corpus produces and on their
order; they differ in one place, checked separately: a RESP3 client
subscribed to the events of its own command gets them after the command's
reply in 7.2 (7.0 wrote each where it was published, even inside an array
reply), so that test expects the oracle's reply followed by what another
subscriber of the oracle heard. The corpus avoids what depends on timing or
chance (active expiry, eviction and SPOP's pick are checked by their shape).

causalkv only (no Redis equivalent): the `v` class (vput, vdel) and the `c`
class (sibling, with the keyspace message "sibling:<count>"), on a single
node and in a cluster, where two nodes' concurrent writes make siblings.

CAUSALKV_TEST_SUBJECT=redis-server runs the Redis-comparing part with a
second redis-server in causalkv's place, which validates the tests.
"""

import shlex
import time
import unittest

import redis

import harness
from harness import RawConnection, encode_command, decode

MARKER = "__test_marker__"

# The command corpus, by family. One string per command (shell quoting).
GENERIC_AND_STRINGS = """
set a 1
set a 2 ex 100
setex b 100 x
psetex c 100000 x
setnx a 5
setnx d 5
get a
get nokey
getex a ex 50
getex a persist
getex a persist
getex a
getex nokey ex 10
getdel a
getdel a
getset b 3
getset newkey 3
mset x 1 y 2
msetnx x 1 z 2
msetnx z 1 w 2
incr n
decr n
incrby n 5
decrby n 2
incrbyfloat n 1.5
incr b
append s hi
append s2 there
setrange s 1 yy
setrange s3 0 ""
setrange s3 2 a
set a 1 get
set a 2 get
set a 1 nx
set a 3 xx keepttl
set a 4 xx px 100000
set nokey2 4 xx
set g 1 pxat 99999999999999
strlen nokey
getrange nokey 0 1
mget a nokey b
expire c 100
expire c 100 nx
pexpire c 200000 gt
pexpire c 200 lt
expireat c 1
expire nokey 10
set d 1
pexpireat d 99999999999999
persist d
persist d
persist nokey
ttl d
ttl nokey
pttl nokey
expiretime nokey
exists nokey d
type nokey
type d
touch nokey d
del d nokey x
unlink y nokey
set e 1
rename e f
rename f f
renamenx f g
set h 1
renamenx g h
rename g h
rename nokey k
move h 1
move nokey 1
set h 5
copy h h2
copy h h2
copy h h2 replace
copy h h3 db 2
copy nokey h4
dbsize
"""

LISTS = """
lpush l a b c
rpush l d
lpushx nol a
rpushx l e
linsert l before a x
linsert l before zz x
linsert nol before a x
lset l 0 y
lrem l 0 zz
lrem l 1 y
ltrim l 0 10
ltrim l 0 1
lpop l
rpop l 5
lpop nol
rpush l2 a b
lmove l2 l3 left right
rpoplpush l2 l3
lmove l3 l3 left left
lmove nol l3 left left
lmpop 1 l3 left count 10
lmpop 2 nol l3 left
rpush m a
ltrim m 1 0
rpush m a b c
lrem m 0 a
lrem m 0 b
lrem m 0 c
rpush m2 a
lpop m2 0
llen nol
lrange nol 0 -1
lindex nol 0
lpos nol a
blpop l2 l3 0.01
rpush q x
blpop nol q 1
brpoplpush nol q 0.01
rpush q2 y
blmove q2 q right left 1
blmpop 1 1 q right count 5
"""

SETS = """
sadd s a b c
sadd s a
srem s a zz
srem s zz
srem nos a
sadd p1 x
spop p1
sadd p2 1 2 3
spop p2 5
spop nos
sadd s a b c d
spop s 0
smove s s2 a
smove s s2 zz
smove s s b
smove nos s a
sadd s3 b c
sinterstore d s s3
sinterstore d nos s3
sinterstore d2 nos s3
sunionstore d s s3
sdiffstore d s s
sdiffstore d s s3
sadd s4 1 2 3 x
srem s4 1 2 3 x
sadd s5 1 2
smove s5 s6 1
smove s5 s6 2
smembers nos
sismember nos a
scard nos
sunion nos nos2
sinter s3 nos
srandmember nos
"""

HASHES = """
hset h a 1 b 2
hset h a 1
hsetnx h a 2
hsetnx h c 3
hsetnx h2 c 3
hmset h d 4
hdel h a zz
hdel h zz
hdel noh a
hincrby h n 1
hincrbyfloat h f 1.5
hincrby h2 n 1
hdel h b c d n f
hget noh f
hgetall noh
hexists noh f
hlen noh
hrandfield noh
"""

ZSETS = """
zadd z 1 a 2 b 3 c
zadd z 1 a
zadd z 5 a
zadd z nx 5 a
zadd z xx 7 zz
zadd z incr 2 a
zadd z nx incr 2 a
zincrby z 1 b
zincrby z2 1 b
zrem z zz
zrem z a
zrem noz a
zadd z 4 d 5 e 6 f
zremrangebyscore z 100 200
zremrangebyscore z 4 4
zremrangebyrank z 0 0
zremrangebyrank z 50 60
zadd lex 0 a 0 b 0 c
zremrangebylex lex [a [a
zremrangebylex lex [x [z
zpopmin z
zpopmax z 2
zpopmin noz
zpopmax z 10
zadd z1 1 a 2 b
zadd z2 2 b 3 c
zunionstore out 2 z1 z2
zinterstore out 2 z1 z2
zinterstore out 2 z1 noz
zinterstore out2 2 z1 noz
zdiffstore out 2 z1 z2
zdiffstore out 2 z1 z1
zrangestore out z1 0 -1
zrangestore out z1 5 6
zrangestore out3 z1 5 6
zmpop 1 z1 min
zmpop 2 noz z1 max count 5
bzpopmin noz z2 0.01
bzpopmax z2 0.01
zscore noz a
zrange noz 0 -1
zcard noz
zrank noz a
"""

OTHER = """
setbit bm 7 1
setbit bm 7 1
setbit bm 100 0
getbit nobm 1
bitcount nobm
bitop and dest bm nobm
bitop or dest bm bm
bitop and dest nobm nobm2
bitfield bf set u8 0 255
bitfield bf get u8 0
bitfield bf incrby u8 0 1 overflow fail incrby u8 0 1
bitfield_ro nobm get u8 0
pfadd hll a b c
pfadd hll a
pfadd hll
pfadd hll2
pfcount nohll
pfcount hll
pfmerge hll3 hll nohll
pfmerge hll4
geoadd geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
geoadd geo 13.361389 38.115556 Palermo
geoadd geo xx 13.361389 38.115556 Palermo
geopos nogeo a
geodist nogeo a b
georadius geo 15 37 200 km store geostore
georadius geo 15 37 1 km store geostore
georadius geo 15 37 1 km store geostore2
geosearchstore gs geo fromlonlat 15 37 byradius 200 km
geosearchstore gs geo fromlonlat 15 37 byradius 1 km
rpush sl 3 1 2
sort sl store sorted
sort sl limit 0 0 store sorted
sort nosl store sorted
sort nosl store sorted2
sort sl
sort sl by w_* get # get o_* get h_*->f
sort_ro nosl
lcs nol1 nol2
"""

# Streams (cmd_stream.cc notifies them; explicit IDs keep it deterministic).
# XCLAIM/XAUTOCLAIM name an existing consumer: 7.2 creates (and notifies) a
# new one even when nothing is claimed, 7.0 does not. Not XREAD of a missing
# key: Redis looks each key up twice (two keymiss), causalkv once.
STREAMS = """
xadd s 1-1 f v
xadd s 2-1 f v
xadd s nomkstream 3-1 f v
xadd nos nomkstream 3-1 f v
xadd s maxlen 1 4-1 f v
xtrim s maxlen 0
xtrim s maxlen 0
xadd s 5-1 f v
xdel s 5-1
xdel s 5-1
xsetid s 10-1
xgroup create s g $
xgroup create s g $
xgroup create s2 g $ mkstream
xgroup createconsumer s g c1
xgroup createconsumer s g c1
xgroup setid s g 0
xadd s 11-1 f v
xreadgroup group g c2 count 1 streams s >
xack s g 11-1
xclaim s g c2 0 11-1
xautoclaim s g c2 0 0
xgroup delconsumer s g c1
xgroup destroy s g
xgroup destroy s g
xlen nos
xrange nos - +
xrevrange nos + -
xpending nos g
del s
"""

# Scripts: the events of the commands a script runs, in order; for a RESP3
# caller subscribed to them, after the script's reply.
SCRIPTS = """
eval "redis.call('set', KEYS[1], 'x'); return redis.call('incr', KEYS[2])" 2 sa sb
eval "redis.call('rpush', KEYS[1], 'a', 'b'); redis.call('lpop', KEYS[1]); return redis.call('lpop', KEYS[1])" 1 sl
eval "return redis.call('get', KEYS[1])" 1 nokey
eval "redis.call('del', KEYS[1]); return redis.call('expire', KEYS[2], 100)" 2 sa sb
"""

# Read commands on missing keys (keymiss, m) and writes that look their
# keys up without counting a miss.
KEYMISS = """
object encoding nokey
object idletime nokey
exists nokey
hmget nokey a b
hstrlen nokey a
hkeys nokey
smismember nokey a
srandmember nokey 2
sintercard 2 nos1 nos2
zintercard 2 noz1 noz2
zmscore nokey a
zcount nokey 0 1
zlexcount nokey - +
zrandmember nokey
zrevrange nokey 0 1
zrangebyscore nokey 0 1
zunion 2 noz1 noz2
zinter 2 noz1 noz2
zdiff 2 noz1 noz2
sdiff nos1 nos2
sinter nos1 nos2
sunion nos1 nos2
lpos nokey a
bitpos nokey 1
bitfield_ro nokey get u8 0
bitop or dest nob1 nob2
substr nokey 0 1
lcs nol1 nol2
pfcount nohll1 nohll2
georadius nogeo 15 37 200 km
geosearch nogeo fromlonlat 15 37 byradius 1 km
geohash nogeo a
sort nokey by w_*
hincrby newh f 1
hsetnx newh2 f v
lpushx nokey a
linsert nokey before a b
lset nokey 0 a
ltrim nokey 0 1
lrem nokey 0 a
srem nokey a
smove nokey other a
spop nokey
zrem nokey a
zpopmin nokey
zremrangebyrank nokey 0 1
zadd nokey xx 1 a
hdel nokey a
incr nokey
append nokey2 a
setrange nokey3 0 a
setbit nokey4 1 1
pfadd nokey5 a
pfmerge nokey6 nokey7
getdel nokey8
expire nokey 10
persist nokey
rename nokey x
move nokey 1
"""

SERVER = """
set a 1
multi
set a 2
incr a
del a
exec
set b 1
swapdb 0 1
get b
swapdb 0 1
flushdb
set c 1
flushall
"""


def corpus(text):
    return [shlex.split(line) for line in text.strip().splitlines() if line.strip()]


class Session:
    """One server: an admin connection, a subscriber and a client."""

    def __init__(self, port, flags, protocol, pattern="__key*__:*"):
        self.port = port
        admin = RawConnection(port)
        admin.call("FLUSHALL")
        assert admin.call("CONFIG", "SET", "notify-keyspace-events", flags) == b"+OK\r\n"
        self.admin = admin
        self.sub = RawConnection(port)
        if protocol == 3:
            self.sub.send(encode_command("HELLO", "3"))
            self.sub.read_reply()
        self.sub.send(encode_command("PSUBSCRIBE", pattern))
        self.sub.read_reply()
        self.sub.send(encode_command("SUBSCRIBE", MARKER))
        self.sub.read_reply()
        self.client = RawConnection(port)
        self.seq = 0

    def events(self):
        """The frames the subscriber reads up to the next marker."""
        self.seq += 1
        self.admin.call("PUBLISH", MARKER, str(self.seq))
        frames = []
        while True:
            raw = self.sub.read_reply()
            if MARKER.encode() in raw and raw.endswith(b"\r\n%d\r\n" % self.seq):
                return frames
            frames.append(raw)

    def run(self, commands):
        log = []
        for args in commands:
            self.client.send(encode_command(*args))
            reply = self.client.read_reply()
            log.append((" ".join(args), reply, self.events()))
        return log

    def close(self):
        for c in (self.admin, self.sub, self.client):
            c.close()


class NotificationsOracle(harness.OracleCase):
    def compare(self, flags, commands, protocol=2, pattern="__key*__:*"):
        logs = []
        for server in (self.oracle, self.subject):
            session = Session(server.port, flags, protocol, pattern)
            try:
                logs.append(session.run(commands))
            finally:
                session.close()
        expected, actual = logs
        for want, got in zip(expected, actual):
            self.assertEqual(want, got, "flags %r, RESP%d: %r differs" % (flags, protocol, want[0]))
        self.assertEqual(len(expected), len(actual))
        return expected

    def test_config_get_set(self):
        for server in (self.oracle, self.subject):
            with RawConnection(server.port) as c:
                for flags in ["KEA", "Ex", "gK$", "KEAmn", "KEn", "KEtn", "g$lshzxetd", "KKEE",
                              "Kl", "Eg", "KEe", ""]:
                    c.call("CONFIG", "SET", "notify-keyspace-events", flags)
                    got = c.call("CONFIG", "GET", "notify-keyspace-events")
                    with RawConnection(self.oracle.port) as o:
                        o.call("CONFIG", "SET", "notify-keyspace-events", flags)
                        want = o.call("CONFIG", "GET", "notify-keyspace-events")
                    self.assertEqual(want, got, flags)
                for bad in ["Kq", "K E", "kea"]:
                    with RawConnection(self.oracle.port) as o:
                        want = o.call("CONFIG", "SET", "notify-keyspace-events", bad)
                    self.assertEqual(want, c.call("CONFIG", "SET", "notify-keyspace-events", bad))

    def family(self, text):
        """A corpus under KEA: RESP2 and RESP3 subscribers, and a RESP3
        client subscribed to its own events (where Redis puts each event
        before or after the reply matters there)."""
        commands = corpus(text)
        for protocol in (2, 3):
            log = self.compare("KEA", commands, protocol)
            self.assertTrue(any(frames for _, _, frames in log))
        self.self_subscribed(commands)

    def test_generic_and_strings(self):
        self.family(GENERIC_AND_STRINGS)

    def test_lists(self):
        self.family(LISTS)

    def test_sets(self):
        self.family(SETS)

    def test_hashes(self):
        self.family(HASHES)

    def test_zsets(self):
        self.family(ZSETS)

    def test_bitmaps_hll_geo_sort(self):
        self.family(OTHER)

    def test_transactions_swapdb_flush(self):
        self.family(SERVER)

    def test_streams(self):
        self.family(STREAMS)
        for flags in ("Kt", "Eg", "KEm", "KEn"):
            self.compare(flags, corpus(STREAMS))

    def test_scripts(self):
        self.family(SCRIPTS)
        self.compare("KEm", corpus(SCRIPTS))

    def test_keymiss(self):
        for flags in ("KEm", "Em", "KEA", "KEn"):
            self.compare(flags, corpus(KEYMISS))

    def test_class_filters(self):
        commands = corpus(GENERIC_AND_STRINGS) + corpus(LISTS) + corpus(SETS) + \
            corpus(HASHES) + corpus(ZSETS) + corpus(OTHER)
        for flags in ["Kl", "Eg", "E$", "K", "E", "Kgl", "KEm", "KEn", "Em$"]:
            self.compare(flags, commands)

    def test_keyspace_and_keyevent_channels_alone(self):
        # A subscriber of the exact channels, not a pattern.
        self.compare("KEA", corpus(GENERIC_AND_STRINGS), pattern="__keyspace@0__:a")
        self.compare("KEA", corpus(GENERIC_AND_STRINGS), pattern="__keyevent@0__:set")

    def test_notifications_off(self):
        self.compare("", corpus(GENERIC_AND_STRINGS))

    def self_subscribed(self, commands):
        """A RESP3 client subscribed to its own events. Redis 7.2 delivers
        the pushes a command causes to its own client after the command's
        reply (7.0 wrote them where the command published them, even inside
        an array reply), so the expected frames are the oracle's RESP3 reply
        followed by what a separate RESP3 subscriber of the oracle got."""
        if harness.redis_as_subject():
            return  # a 7.0 subject writes them where they were published
        expected = []
        session = Session(self.oracle.port, "KEA", 3)
        try:
            session.client.call("HELLO", "3")
            for args in commands:
                session.client.send(encode_command(*args))
                reply = session.client.read_reply()
                expected.append((args, reply, session.events()))
        finally:
            session.close()
        with RawConnection(self.subject.port) as c:
            c.call("FLUSHALL")
            c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
            c.call("HELLO", "3")
            c.call("PSUBSCRIBE", "__key*__:*")
            in_multi = False
            for args, reply, events in expected:
                name = " ".join(args)
                c.send(encode_command(*args))
                if args[0] == "multi" or in_multi and args[0] != "exec":
                    in_multi = True  # QUEUED: a PING would be queued too
                    self.assertEqual((name, reply), (name, c.read_reply()))
                    continue
                in_multi = False
                c.send(encode_command("PING", "end"))
                frames = []
                while True:
                    raw = c.read_reply()
                    if raw == b"+end\r\n" or raw == b"$3\r\nend\r\n":
                        break
                    frames.append(raw)
                self.assertEqual((name, [reply] + events), (name, frames))
            c.call("CONFIG", "SET", "notify-keyspace-events", "")


def run_expiry(testcase, server):
    """Keys with a short TTL, expired lazily (a read) and actively."""
    s = Session(server.port, "KEx", 2)
    try:
        s.client.call("SET", "lazy", "1", "PX", "30")
        s.client.call("SET", "active", "1", "PX", "30")
        s.client.call("HSET", "h", "f", "v")
        s.client.call("PEXPIRE", "h", "30")
        testcase.assertEqual(s.events(), [])
        time.sleep(0.1)
        got = set()
        deadline = time.monotonic() + 5
        s.client.call("GET", "lazy")  # expires it here, or the cycle did
        while len(got) < 6 and time.monotonic() < deadline:
            got.update(s.events())
            time.sleep(0.05)
        return got
    finally:
        s.close()


class ExpiryAndEviction(harness.OracleCase):
    def test_expired(self):
        want = run_expiry(self, self.oracle)
        got = run_expiry(self, self.subject)
        self.assertEqual(want, got)
        self.assertEqual(len(got), 6)


class MoreEvents(harness.OracleCase):
    def run_eviction(self, server):
        """Fills past maxmemory under allkeys-lru: what each server says it
        evicted (the evicted keys are Redis's choice, so only the shape of
        the events is compared)."""
        s = Session(server.port, "KEe", 2)
        try:
            s.admin.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
            info = decode(s.admin.call("INFO", "memory")).decode()
            used = int(info.split("used_memory:")[1].split("\r\n")[0])
            s.admin.call("CONFIG", "SET", "maxmemory", str(used + 300000))
            value = "v" * 1000
            for i in range(1500):
                s.client.send(encode_command("SET", "key:%d" % i, value))
            for i in range(1500):
                s.client.read_reply()
            frames = s.events()
            s.admin.call("CONFIG", "SET", "maxmemory", "0")
            evicted = []
            for raw in frames:
                channel, message = decode(raw)[2:4]
                if channel.startswith(b"__keyspace@0__:"):
                    self.assertEqual(message, b"evicted")
                    evicted.append(channel[len(b"__keyspace@0__:"):])
                else:
                    self.assertEqual(channel, b"__keyevent@0__:evicted")
                    self.assertEqual(message, evicted[-1])  # keyspace first, then keyevent
            self.assertEqual(len(frames), 2 * len(evicted))
            for key in evicted[:50]:
                self.assertEqual(s.client.call("EXISTS", key), b":0\r\n")
            return evicted
        finally:
            s.admin.call("CONFIG", "SET", "maxmemory", "0")
            s.close()

    def test_evicted(self):
        want = self.run_eviction(self.oracle)
        got = self.run_eviction(self.subject)
        self.assertGreater(len(want), 0)
        self.assertGreater(len(got), 0)

    def test_blocked_pop_served_later(self):
        """A BLPOP/BLMOVE/BZPOPMIN waiting when another client pushes: the
        push's events, then the pop's (and del) when the waiter is served."""
        logs = []
        for server in (self.oracle, self.subject):
            s = Session(server.port, "KEA", 2)
            log = []
            try:
                with RawConnection(server.port) as waiter:
                    for block, push in [
                            (["BLPOP", "q", "0"], ["RPUSH", "q", "a"]),
                            (["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
                             ["LPUSH", "src", "x", "y"]),
                            (["BZPOPMIN", "z", "0"], ["ZADD", "z", "1", "m"]),
                            (["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "5"],
                             ["RPUSH", "l2", "p", "q"])]:
                        waiter.send(encode_command(*block))
                        deadline = time.monotonic() + 5
                        while time.monotonic() < deadline:  # until it waits
                            info = decode(s.admin.call("INFO", "clients")).decode()
                            if "blocked_clients:1" in info:
                                break
                            time.sleep(0.01)
                        log.append((push, s.client.call(*push), waiter.read_reply(),
                                    s.events()))
            finally:
                s.close()
            logs.append(log)
        self.assertEqual(logs[0], logs[1])

    def test_lazy_expiry_then_keymiss(self):
        """A read that finds its key expired: "expired", then "keymiss", in
        that order (unless active expiry got there first), on both servers;
        a write to an expired key: "expired", "new", then its event."""
        for server in (self.oracle, self.subject):
            s = Session(server.port, "KEA" + "mnx", 2)
            try:
                s.client.call("SET", "a", "1", "PX", "50")
                s.client.call("SET", "b", "1", "PX", "50")
                s.events()
                time.sleep(0.15)
                early = [decode(raw)[2:4] for raw in s.events()]
                s.client.call("GET", "a")
                got = [decode(raw)[2:4] for raw in s.events()]
                if [b"__keyspace@0__:a", b"expired"] not in early:
                    self.assertEqual(got[:2], [[b"__keyspace@0__:a", b"expired"],
                                               [b"__keyevent@0__:expired", b"a"]])
                self.assertEqual(got[-2:], [[b"__keyspace@0__:a", b"keymiss"],
                                            [b"__keyevent@0__:keymiss", b"a"]])
                s.client.call("SET", "b", "2")
                got = [decode(raw)[2:4] for raw in s.events()]
                names = [m for ch, m in got if ch.startswith(b"__keyspace")]
                self.assertIn(names, ([b"expired", b"new", b"set"], [b"new", b"set"]), server)
            finally:
                s.close()


def event_pairs(frames):
    """(channel, message) of each pmessage frame."""
    return [tuple(decode(raw)[2:4]) for raw in frames]


class VersionedAndSiblings(unittest.TestCase):
    """causalkv's own classes on one node: v (vput, vdel) and c (sibling,
    whose keyspace message is "sibling:<count>"). Not in A."""

    @classmethod
    def setUpClass(cls):
        if harness.redis_as_subject():
            raise unittest.SkipTest("causalkv's own events")
        cls.server = harness.start_subject()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_a_does_not_include_v_or_c(self):
        s = Session(self.server.port, "KEA", 2)
        try:
            s.client.call("VPUT", "cart", "0", "milk")
            s.client.call("VPUT", "cart", "0", "eggs")
            self.assertEqual(s.events(), [])
            self.assertEqual(s.admin.call("CONFIG", "GET", "notify-keyspace-events"),
                             b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n")
        finally:
            s.close()

    def test_blind_vputs_make_siblings(self):
        s = Session(self.server.port, "KEvc", 3)
        try:
            s.client.call("VPUT", "cart", "0", "milk")
            self.assertEqual(event_pairs(s.events()), [
                (b"__keyspace@0__:cart", b"vput"), (b"__keyevent@0__:vput", b"cart")])
            s.client.call("VPUT", "cart", "0", "eggs")  # blind: a second sibling
            self.assertEqual(event_pairs(s.events()), [
                (b"__keyspace@0__:cart", b"vput"), (b"__keyevent@0__:vput", b"cart"),
                (b"__keyspace@0__:cart", b"sibling:2"), (b"__keyevent@0__:sibling", b"cart")])
            s.client.call("VPUT", "cart", "0", "bread")
            self.assertEqual(event_pairs(s.events())[2:], [
                (b"__keyspace@0__:cart", b"sibling:3"), (b"__keyevent@0__:sibling", b"cart")])
            # A read fires nothing; a write with the context read merges:
            # one sibling, no sibling event.
            version = decode(s.client.call("VGET", "cart"))[0]
            self.assertEqual(s.events(), [])
            s.client.call("VPUT", "cart", str(version), "milk,eggs,bread")
            self.assertEqual(event_pairs(s.events()), [
                (b"__keyspace@0__:cart", b"vput"), (b"__keyevent@0__:vput", b"cart")])
            # VDEL with a stale version removes nothing: no event.
            s.client.call("VPUT", "cart", "0", "jam")  # sibling again
            s.events()
            s.client.call("VDEL", "cart", "1")
            self.assertEqual(s.events(), [])
            version = decode(s.client.call("VGET", "cart"))[0]
            s.client.call("VDEL", "cart", str(version))
            self.assertEqual(event_pairs(s.events()), [
                (b"__keyspace@0__:cart", b"vdel"), (b"__keyevent@0__:vdel", b"cart")])
            # A plain write over a key with siblings leaves one: nothing of c.
            s.client.call("VPUT", "k", "0", "a")
            s.client.call("VPUT", "k", "0", "b")
            s.events()
            s.client.call("SET", "k", "c")
            self.assertEqual(s.events(), [])  # only v and c enabled
        finally:
            s.close()

    def test_class_filters(self):
        for flags, want in [("Kc", [(b"__keyspace@0__:x", b"sibling:2")]),
                            ("Ec", [(b"__keyevent@0__:sibling", b"x")]),
                            ("Ev", [(b"__keyevent@0__:vput", b"x")]),
                            ("Kv", [(b"__keyspace@0__:x", b"vput")]),
                            ("KE", []), ("vc", [])]:
            s = Session(self.server.port, flags, 2)
            try:
                s.client.call("VPUT", "x", "0", "1")
                s.events()
                s.client.call("VPUT", "x", "0", "2")
                self.assertEqual(event_pairs(s.events()), want, flags)
            finally:
                s.close()


class ClusterSiblings(unittest.TestCase):
    """Three nodes: each notifies what happens to its own keyspace. A VPUT
    through A and a concurrent one through B: the node that takes the second
    write and the nodes that merge the states fire `sibling` (count 2); the
    notifications themselves are not forwarded (a subscriber on C hears C's
    merge, once)."""

    def setUp(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's own events")
        import cluster_harness
        self.cluster = cluster_harness.Cluster(
            3, ["--peer-timeout", "400", "--anti-entropy-interval", "300",
                "--notify-keyspace-events", "KEvcn"])
        self.a, self.b, self.c = self.cluster.nodes

    def tearDown(self):
        self.cluster.close()

    def subscribe(self, node):
        c = RawConnection(node.port, host=node.addr, timeout=0.3)
        c.send(encode_command("PSUBSCRIBE", "__key*__:*"))
        c.read_reply()
        return c

    def drain(self, conn, settle=1.5):
        got = []
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            try:
                got.append(tuple(decode(conn.read_reply())[2:4]))
            except (TimeoutError, OSError):
                pass
        return got

    def test_concurrent_writes_fire_sibling_where_merged(self):
        subs = [self.subscribe(n) for n in (self.a, self.b, self.c)]
        try:
            self.a.client().execute_command("VPUT", "cart", "0", "milk")
            self.cluster.wait_converged()
            first = [self.drain(c) for c in subs]
            # The write's node notifies new and vput; the others merge one
            # sibling, which creates the key there (new).
            new = [(b"__keyspace@0__:cart", b"new"), (b"__keyevent@0__:new", b"cart")]
            self.assertEqual(first[0], new + [(b"__keyspace@0__:cart", b"vput"),
                                              (b"__keyevent@0__:vput", b"cart")])
            self.assertEqual(first[1], new)
            self.assertEqual(first[2], new)
            self.b.client().execute_command("VPUT", "cart", "0", "eggs")  # blind
            self.cluster.wait_converged()
            second = [self.drain(c) for c in subs]
            sibling = [(b"__keyspace@0__:cart", b"sibling:2"),
                       (b"__keyevent@0__:sibling", b"cart")]
            self.assertEqual(second[1], [(b"__keyspace@0__:cart", b"vput"),
                                         (b"__keyevent@0__:vput", b"cart")] + sibling)
            self.assertEqual(second[0], sibling)  # merged from B
            self.assertEqual(second[2], sibling)
            # Reads, and merges that change nothing, fire nothing.
            for n in (self.a, self.b, self.c):
                n.client().execute_command("VGET", "cart")
            self.assertEqual([self.drain(c, 0.8) for c in subs], [[], [], []])
        finally:
            for c in subs:
                c.close()

    def test_own_events_follow_a_reply_held_for_its_quorum(self):
        """W=2 of 3: the reply waits for a peer's ack; a RESP3 client
        subscribed to its own events still reads the reply first."""
        with RawConnection(self.a.port, host=self.a.addr) as c:
            c.call("HELLO", "3")
            c.call("PSUBSCRIBE", "__keyevent@0__:*")
            for args in (["VPUT", "k", "0", "v"], ["VPUT", "k", "0", "w"]):
                c.send(encode_command(*args))
                reply = c.read_reply()
                self.assertTrue(reply.startswith(b"*2\r\n"), reply)
                pushes = [decode(c.read_reply()) for _ in range(2)]
                self.assertEqual([p[2] for p in pushes],
                                 [b"__keyevent@0__:new", b"__keyevent@0__:vput"]
                                 if args[3] == "v" else
                                 [b"__keyevent@0__:vput", b"__keyevent@0__:sibling"])

    def test_concurrent_plain_writes_across_a_partition(self):
        import cluster_harness
        if not cluster_harness.can_partition():
            self.skipTest("needs iptables")
        subs = [self.subscribe(n) for n in (self.a, self.b, self.c)]
        try:
            self.cluster.partition([self.a], [self.b, self.c])
            try:
                self.a.client().execute_command("SET", "k", "from-a")
            except redis.ResponseError as e:  # A alone: no quorum, the write is kept
                self.assertIn("NOQUORUM", str(e))
            self.b.client().execute_command("SET", "k", "from-b")
            [self.drain(c, 0.5) for c in subs]
            self.cluster.heal()
            self.cluster.wait_links_up()
            self.cluster.wait_converged()
            after = [self.drain(c) for c in subs]
            sibling = [(b"__keyspace@0__:k", b"sibling:2"),
                       (b"__keyevent@0__:sibling", b"k")]
            self.assertEqual(after[0], sibling)  # A merges B's write
            self.assertIn(sibling[0], after[1] + after[2])  # and B, C merge A's
        finally:
            self.cluster.heal()
            for c in subs:
                c.close()


if __name__ == "__main__":
    harness.main()
