#!/usr/bin/env python3
"""A randomized history checker in the style of Jepsen (issue 11, section 7).

Three nodes. Several client threads do random cart operations through random
nodes on a few keys, with random W/R overrides, and record what they were
told. Meanwhile a nemesis injects one fault at a time and always undoes it:
kill -9 and restart (same directory, appendonly yes), SIGSTOP and SIGCONT, an
iptables partition of one node from the others (when allowed). At the end
every fault is undone, the nodes converge, and the history is checked against
what the nodes hold.

Operations (a cart is a comma-separated list of items; every item is unique):
  rmw    VGET key [R n], then VPUT key <token> "<new item>,<items read...>"
         [W n]: the new item first, then the sorted union of every sibling
         read. The first item names the write, so every value ever written
         is identified by its first item and checked by a CRC.
  blind  VPUT key 0 <new item> [W n]
  vdel   VGET key [R n], then VDEL key <token> [W n]
  del    DEL key (its context is whatever its coordinator holds; only on
         two of the keys, so the others keep items that only VDEL removes)
  read   VGET key [R n]
Outcomes: ok, noquorum (error starting NOQUORUM: applied, kept, delivered
later), error (another error reply), unknown (connection lost or timed out:
maybe applied), readfail (the VGET before a write failed: nothing was sent).

Checks:
  1. After the heal every node holds exactly the same full state of every
     key (PEER.DUMP) and gives the same VGET reply.
  2. No acknowledged item is lost. An item whose write was acknowledged (ok,
     any W) must be in the final cart on every node unless a delete could
     have covered it. Only deletes remove items (a read-merge-write carries
     every item it read into its value), and a delete's context covers only
     what its client read, so the item is exempt only if
       - some vdel that was sent (any outcome) had read a value holding the
         item, or
       - some DEL on the key ended (reply or error) after the item's write
         began (a DEL covers whatever its coordinator held when it ran, and
         it ran before its reply; a timed-out DEL could run any time).
     Why a vdel that read the item is the only way: the first delete whose
     context covered any value holding the item read a state in which only
     read-merge-writes had covered such values, and those carry the item on,
     so its read returned a value holding it.
     noquorum/unknown/error items are "maybe": present or not, but intact.
     (Lost noquorum items that no delete covered are reported as warnings:
     the server promises to keep them, the brief counts them as maybe.)
  3. Nothing appears that was never written: every value in every read and
     in the final state is exactly a value some client sent (first item and
     CRC), and every final item was written to that key.
  4. Siblings stay within their bound. A value V is dominated when a write
     that was applied (ok or noquorum) used the token of a read that
     returned V: that token covers V's dot, so V can never be a sibling
     again. Every final sibling must be a value that was not dominated (no
     resurrection), so the sibling count is at most the number of
     undominated writes to the key: the writes that no later applied write
     saw, the only ones that can be concurrent at the end. A smaller bound
     such as "the number of client threads" is not sound here: with R=1
     reads, W=1 writes and partitions even one client's successive writes
     can be concurrent.
  5. Quorum reads see acknowledged quorum writes (R + W > N), checked while
     running: a VGET at R>=2 that began after a write at W>=2 was
     acknowledged returns its item, unless a delete could have covered it
     (a vdel that read it was about to be sent, or a DEL on the key was in
     flight or ended after the write began).

Environment: CHAOS_SECONDS (default 20) is how long the workload and the
faults run; CHAOS_SEED picks the random choices (printed at the start; thread
timing still varies between runs). `make chaos` runs it longer with several
seeds. On failure the history of the keys involved and the tails of the node
logs are printed, and the logs and the full history are kept in a directory
whose path is printed.
"""

import json
import os
import random
import shutil
import tempfile
import threading
import time
import traceback
import unittest
import zlib

import redis

import cluster_harness
import harness

FAST = ["--peer-timeout", "400", "--anti-entropy-interval", "300", "--appendonly", "yes"]
NODES = 3
THREADS = 5
KEYS = ["cart:%d" % i for i in range(8)]
# Plain DEL covers whatever its coordinator holds, so every item written
# before it ended is exempt from the loss checks: only two keys get DELs,
# the others are deleted by VDEL only (which covers just what it read).
DEL_KEYS = KEYS[-2:]
CLIENT_TIMEOUT = 20.0  # longer than any pause: a timeout means a hang
CONVERGE_TIMEOUT = 60.0
INF = float("inf")


def chaos_seconds():
    return float(os.environ.get("CHAOS_SECONDS", "20"))


def chaos_seed():
    s = os.environ.get("CHAOS_SEED")
    return int(s) if s else random.SystemRandom().randrange(1 << 32)


def split_items(value):
    if not value:
        return []
    return value.decode().split(",")


def crc(value):
    return zlib.crc32(value) & 0xFFFFFFFF


class Op:
    __slots__ = ("idx", "thread", "kind", "key", "rnode", "wnode", "r", "w", "item", "vcrc",
                 "read_ids", "read_items", "status", "detail", "t0", "t1", "reply")

    def __init__(self, idx, thread, kind, key):
        self.idx = idx
        self.thread = thread
        self.kind = kind
        self.key = key
        self.rnode = self.wnode = self.r = self.w = None
        self.item = None        # the new item (rmw, blind): also the value's name
        self.vcrc = None        # CRC of the value sent
        self.read_ids = None    # first items of the values the read returned
        self.read_items = None  # vdel: every item in the values read
        self.status = "pending"
        self.detail = ""
        self.t0 = self.t1 = None
        self.reply = None       # del: the integer reply

    def applied(self):
        return self.status in ("ok", "noquorum")

    def maybe_applied(self):
        return self.status not in ("readfail", "pending")

    def describe(self):
        via = "n%s" % self.rnode if self.rnode is not None else ""
        if self.r is not None:
            via += "(R%d)" % self.r
        if self.wnode is not None:
            via += "%sn%d" % ("->" if via else "", self.wnode)
            if self.w is not None:
                via += "(W%d)" % self.w
        parts = ["#%d" % self.idx, "%8.3f-%-8s" % (self.t0, "%.3f" % self.t1 if self.t1 != INF
                                                    else "inf"),
                 "T%d" % self.thread, "%-5s" % self.kind, via]
        if self.item:
            parts.append("item=%s" % self.item)
        if self.read_ids is not None:
            parts.append("read=[%s]" % ",".join(self.read_ids))
        if self.kind == "vdel" and self.read_items is not None:
            parts.append("read_items=%d" % len(self.read_items))
        if self.reply is not None:
            parts.append("reply=%s" % self.reply)
        parts.append(self.status + (" " + self.detail if self.detail else ""))
        return " ".join(parts)

    def to_json(self):
        d = {s: getattr(self, s) for s in self.__slots__}
        if d["read_items"] is not None:
            d["read_items"] = sorted(d["read_items"])
        if d["t1"] == INF:
            d["t1"] = None
        return d


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.t_start = time.monotonic()
        self.ops = []
        self.values = {}       # first item -> (op idx, crc) of every value sent
        self.events = []       # (t, text) from the nemesis
        self.violations = []   # found while running: (key, item, text)
        # For check 5, per key: items acknowledged at W>=2 that no delete
        # could cover yet (item -> (ack time, op idx)), the items some vdel
        # read, DELs in flight and the end of the last DEL.
        self.qacked = {k: {} for k in KEYS}
        self.vdel_seen = {k: set() for k in KEYS}
        self.del_active = {k: 0 for k in KEYS}
        self.last_del_end = {k: -1.0 for k in KEYS}
        self.quorum_reads_checked = 0
        self.quorum_items_checked = 0

    def now(self):
        return time.monotonic() - self.t_start

    def new_op(self, thread, kind, key):
        with self.lock:
            op = Op(len(self.ops), thread, kind, key)
            self.ops.append(op)
        op.t0 = self.now()
        return op

    def register_value(self, op, value):
        op.vcrc = crc(value)
        with self.lock:
            self.values[op.item] = (op.idx, op.vcrc)

    def event(self, text):
        with self.lock:
            self.events.append((self.now(), text))

    def before_vdel(self, key, items):
        # Before it is sent: from now on a read may miss these items.
        with self.lock:
            self.vdel_seen[key] |= items
            for i in items:
                self.qacked[key].pop(i, None)

    def before_del(self, key):
        with self.lock:
            self.del_active[key] += 1
            self.qacked[key].clear()

    def after_del(self, key, t1):
        if t1 == INF:
            return  # timed out: it may still run at any time, so stays active
        with self.lock:
            self.del_active[key] -= 1
            self.last_del_end[key] = max(self.last_del_end[key], t1)

    def acked(self, op):
        if op.item is None or (op.w or 2) < 2:
            return
        with self.lock:
            k = op.key
            if (op.item not in self.vdel_seen[k] and self.del_active[k] == 0 and
                    self.last_del_end[k] < op.t0):
                self.qacked[k][op.item] = (op.t1, op.idx)

    def check_quorum_read(self, op, read_t0, values):
        """Check 5: a read of R>=2 that began after a W>=2 write was
        acknowledged sees its item, unless a delete could have covered it."""
        if (op.r or 2) < 2:
            return
        items = set()
        for v in values:
            items.update(split_items(v))
        with self.lock:
            self.quorum_reads_checked += 1
            for item, (t_ack, widx) in self.qacked[op.key].items():
                if t_ack >= read_t0:
                    continue
                self.quorum_items_checked += 1
                if item not in items and len(self.violations) < 1000:
                    self.violations.append(
                        (op.key, item, "check 5: #%d read %s at R=%d through n%d after "
                         "#%d's write of %s was acknowledged at W=%d, and does not hold it"
                         % (op.idx, op.key, op.r or 2, op.rnode, widx, item,
                            self.ops[widx].w or 2)))

    def identify(self, key, value, where):
        """The first item of a value read, after checking it is exactly a
        value some client sent to this key (check 3)."""
        items = split_items(value)
        name = items[0] if items else ""
        with self.lock:
            known = self.values.get(name)
            if known is None or self.ops[known[0]].key != key or known[1] != crc(value):
                self.violations.append(
                    (key, name, "%s returned a value never written to %s: %r"
                     % (where, key, value[:200])))
        return name


def classify(exc):
    if isinstance(exc, redis.ResponseError):
        text = str(exc)
        if text.startswith("NOQUORUM"):
            return "noquorum", text[:60]
        return "error", text[:120]
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return "unknown", "%s: %s" % (type(exc).__name__, str(exc)[:80])
    return "error", "%s: %s" % (type(exc).__name__, str(exc)[:100])


class Client(threading.Thread):
    def __init__(self, index, cluster, history, rng, stop):
        super().__init__(name="chaos-client-%d" % index, daemon=True)
        self.index = index
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.stop_event = stop
        self.conns = [n.client(timeout=CLIENT_TIMEOUT) for n in cluster.nodes]
        self.counter = 0
        self.crash = None

    def new_item(self):
        self.counter += 1
        return "t%d-%d" % (self.index, self.counter)

    def quorum(self, weights=(5, 3, 3, 1)):
        return self.rng.choices([None, 1, 2, 3], weights=weights)[0]

    def read(self, op, key):
        op.rnode = self.rng.randrange(NODES)
        op.r = self.quorum((5, 3, 3, 1))
        args = ["VGET", key] + (["R", op.r] if op.r else [])
        read_t0 = self.history.now()
        token, values = self.conns[op.rnode].execute_command(*args)
        where = "#%d VGET via n%d" % (op.idx, op.rnode)
        op.read_ids = [self.history.identify(key, v, where) for v in values]
        self.history.check_quorum_read(op, read_t0, values)
        return token, values

    def write_node(self, op):
        # Half the time the write goes through the node read from.
        if op.rnode is not None and self.rng.random() < 0.5:
            op.wnode = op.rnode
        else:
            op.wnode = self.rng.randrange(NODES)
        op.w = self.quorum((5, 4, 3, 1))
        return self.conns[op.wnode], (["W", op.w] if op.w else [])

    def finish(self, op, status, detail=""):
        op.t1 = INF if status == "unknown" and "Timeout" in detail else self.history.now()
        op.status = status
        op.detail = detail

    def one(self):
        rng = self.rng
        key = rng.choice(KEYS)
        kind = rng.choices(["rmw", "blind", "vdel", "del", "read"],
                           weights=[50, 25, 6, 6 if key in DEL_KEYS else 0, 10])[0]
        op = self.history.new_op(self.index, kind, key)
        try:
            if kind in ("rmw", "vdel", "read"):
                try:
                    token, values = self.read(op, key)
                except redis.RedisError as e:
                    status, detail = classify(e)
                    self.finish(op, "readfail" if kind != "read" else status, detail)
                    return
                if kind == "read":
                    self.finish(op, "ok")
                    return
                if kind == "rmw":
                    op.item = self.new_item()
                    items = set()
                    for v in values:
                        items.update(split_items(v))
                    items.discard(op.item)
                    value = ",".join([op.item] + sorted(items)).encode()
                    self.history.register_value(op, value)
                    conn, extra = self.write_node(op)
                    conn.execute_command("VPUT", key, token, value, *extra)
                else:
                    op.read_items = set()
                    for v in values:
                        op.read_items.update(split_items(v))
                    self.history.before_vdel(key, op.read_items)
                    conn, extra = self.write_node(op)
                    conn.execute_command("VDEL", key, token, *extra)
            elif kind == "blind":
                op.item = self.new_item()
                value = op.item.encode()
                self.history.register_value(op, value)
                conn, extra = self.write_node(op)
                conn.execute_command("VPUT", key, 0, value, *extra)
            else:  # del
                op.wnode = rng.randrange(NODES)
                self.history.before_del(key)
                op.reply = self.conns[op.wnode].delete(key)
            self.finish(op, "ok")
        except redis.RedisError as e:
            self.finish(op, *classify(e))
        if kind == "del":
            self.history.after_del(key, op.t1)
        elif op.status == "ok":
            self.history.acked(op)

    def run(self):
        try:
            while not self.stop_event.is_set():
                self.one()
        except BaseException:
            self.crash = traceback.format_exc()
        finally:
            for c in self.conns:
                try:
                    c.close()
                except Exception:
                    pass


class Nemesis:
    """One fault at a time, always undone. It runs on the main thread: the
    harness starts servers with PR_SET_PDEATHSIG, which kills a child when
    the thread that started it ends, so a restarted node must be started by
    a thread that outlives the test."""

    def __init__(self, cluster, history, rng, stop):
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.stop_event = stop
        self.faults = ["kill", "pause"] + (["partition"] if cluster_harness.can_partition()
                                           else [])
        self.counts = {f: 0 for f in self.faults}
        self.crash = None
        self.unexpected_deaths = []

    def sleep(self, lo, hi):
        self.stop_event.wait(min(self.rng.uniform(lo, hi),
                                 max(0.0, self.deadline - time.monotonic())))
        if time.monotonic() >= self.deadline:
            self.stop_event.set()

    def check_alive(self):
        for n in self.cluster.nodes:
            if not n.alive():
                code = n.proc.proc.poll()
                self.unexpected_deaths.append((self.history.now(), n.index, code))
                self.history.event("n%d DIED on its own (exit %s): restarting" % (n.index, code))
                n.start()

    def run(self, seconds):
        self.deadline = time.monotonic() + seconds
        nodes = self.cluster.nodes
        try:
            self.sleep(0.3, 0.8)
            while not self.stop_event.is_set():
                self.check_alive()
                fault = self.rng.choice(self.faults)
                node = self.rng.choice(nodes)
                self.counts[fault] += 1
                hold = (0.2, 1.5) if fault != "partition" else (0.5, 2.5)
                if fault == "kill":
                    self.history.event("kill -9 n%d" % node.index)
                    node.kill9()
                    try:
                        self.sleep(*hold)
                    finally:
                        node.start()
                        self.history.event("restarted n%d" % node.index)
                elif fault == "pause":
                    self.history.event("SIGSTOP n%d" % node.index)
                    node.pause()
                    try:
                        self.sleep(*hold)
                    finally:
                        node.resume()
                        self.history.event("SIGCONT n%d" % node.index)
                else:
                    others = [n for n in nodes if n is not node]
                    self.history.event("partition n%d | others" % node.index)
                    try:
                        self.cluster.partition([node], others)
                        self.sleep(*hold)
                    finally:
                        self.cluster.heal()
                        self.history.event("healed")
                self.sleep(0.2, 1.0)
        except BaseException:
            self.crash = traceback.format_exc()
            self.history.event("nemesis crashed")


class ChaosTest(unittest.TestCase):
    def setUp(self):
        self.seed = chaos_seed()
        self.seconds = chaos_seconds()
        print("\nchaos: CHAOS_SEED=%d CHAOS_SECONDS=%g (reproduce with these in the environment)"
              % (self.seed, self.seconds), flush=True)
        self.cluster = cluster_harness.Cluster(NODES, FAST)

    def tearDown(self):
        self.cluster.close()

    # ------------------------------------------------------------------
    def test_random_history(self):
        history = History()
        self.history = history
        stop_clients = threading.Event()
        stop_nemesis = threading.Event()
        clients = [Client(i, self.cluster, history, random.Random(self.seed * 1000 + i),
                          stop_clients) for i in range(THREADS)]
        nemesis = Nemesis(self.cluster, history, random.Random(self.seed * 1000 + 999),
                          stop_nemesis)
        try:
            for c in clients:
                c.start()
            nemesis.run(self.seconds)
        finally:
            stop_nemesis.set()
            stop_clients.set()
            for c in clients:
                c.join(CLIENT_TIMEOUT + 30)
        self.assertFalse(any(c.is_alive() for c in clients), "a client thread did not stop")
        history.event("workload over")

        # Undo everything, then converge.
        self.cluster.heal()
        deaths = list(nemesis.unexpected_deaths)
        for n in self.cluster.nodes:
            if n.alive():
                n.resume()
            else:
                deaths.append((history.now(), n.index, n.proc.proc.poll()))
                n.start()
        failures = []
        if nemesis.crash:
            failures.append("nemesis crashed:\n" + nemesis.crash)
        for c in clients:
            if c.crash:
                failures.append("client %d crashed:\n%s" % (c.index, c.crash))
        for t, i, code in deaths:
            failures.append("n%d died on its own (exit code %s), noticed at %.3f"
                            % (i, code, t))
        try:
            self.cluster.wait_links_up(timeout=CONVERGE_TIMEOUT)
            self.cluster.wait_converged(timeout=CONVERGE_TIMEOUT)
        except AssertionError as e:
            failures.append("check 1 (convergence): %s" % e)
            self.fail_with(failures, KEYS)

        self.report_stats(clients, nemesis)
        failures += self.check(history)
        if failures:
            self.fail_with(failures, sorted({k for k in self.bad_keys} or KEYS))

    # ------------------------------------------------------------------
    def check(self, history):
        failures = []
        self.bad_keys = set()
        ops = history.ops
        nodes = self.cluster.nodes

        # 1. Identical full state, identical replies.
        states = [n.full_state() for n in nodes]
        for i in range(1, len(states)):
            if states[i] != states[0]:
                diff = [k for k in set(states[0]) | set(states[i])
                        if states[0].get(k) != states[i].get(k)]
                failures.append("check 1: n0 and n%d differ on %s" % (i, diff[:10]))
                self.bad_keys.update(k.decode() for k in diff)
        final = {}  # key -> list of sibling values, per node
        for key in KEYS:
            replies = [n.client(timeout=CLIENT_TIMEOUT).execute_command("VGET", key, "R", 1)
                       for n in nodes]
            for i in range(1, len(replies)):
                if replies[i] != replies[0]:
                    failures.append("check 1: VGET %s differs: n0 %r, n%d %r"
                                    % (key, replies[0], i, replies[i]))
                    self.bad_keys.add(key)
            final[key] = [r[1] for r in replies]

        final_names = {key: [[history.identify(key, v, "final state of n%d" % ni) for v in values]
                             for ni, values in enumerate(final[key])] for key in KEYS}
        # 3. Every read and the final state hold only values that were written;
        # 5. quorum reads saw acknowledged quorum writes (both found online).
        for key, name, text in history.violations:
            failures.append(text if text.startswith("check") else "check 3: " + text)
            self.bad_keys.add(key)

        by_item = {op.item: op for op in ops if op.item is not None}
        vdel_saw = {k: set() for k in KEYS}      # items some sent vdel had read
        del_end = {k: [] for k in KEYS}          # end times of every DEL
        dominated = {k: set() for k in KEYS}     # values covered by an applied write
        for op in ops:
            if op.kind == "vdel" and op.maybe_applied():
                vdel_saw[op.key] |= op.read_items
            if op.kind == "del" and op.maybe_applied():
                del_end[op.key].append(op.t1)
            if op.kind in ("rmw", "vdel") and op.applied():
                dominated[op.key].update(op.read_ids)

        self.stats_lines = []
        acked_checked = maybe_present = maybe_absent = exempt = 0
        lost_noquorum = []
        max_siblings = 0
        writes = {k: [] for k in KEYS}  # per key: (op, covered by a possible delete)
        for op in ops:
            if op.item is not None and op.maybe_applied():
                last_del = max(del_end[op.key], default=-1.0)
                writes[op.key].append((op, op.item in vdel_saw[op.key] or last_del > op.t0))
        for key in KEYS:
            bound = sum(1 for op, _ in writes[key] if op.item not in dominated[key])
            for ni, values in enumerate(final[key]):
                present = set()
                for v in values:
                    present.update(split_items(v))
                names = final_names[key][ni]
                # 3. Nothing appears that was never written to this key.
                for item in present:
                    w = by_item.get(item)
                    if w is None or w.key != key:
                        failures.append("check 3: n%d: item %s in %s was never written there"
                                        % (ni, item, key))
                        self.bad_keys.add(key)
                # 4. Every sibling is undominated; the count is within the bound.
                for name in names:
                    if name in dominated[key]:
                        failures.append(
                            "check 4: n%d: %s holds value %s, which an applied write had "
                            "read and covered (resurrected)" % (ni, key, name))
                        self.bad_keys.add(key)
                max_siblings = max(max_siblings, len(values))
                if len(values) > bound:
                    failures.append("check 4: n%d: %s has %d siblings, bound %d"
                                    % (ni, key, len(values), bound))
                    self.bad_keys.add(key)
                # 2. Acknowledged items are present unless a delete could have covered them.
                for op, covered in writes[key]:
                    if ni == 0:
                        if covered:
                            exempt += op.status == "ok"
                        elif op.status == "ok":
                            acked_checked += 1
                        elif op.item in present:
                            maybe_present += 1
                        else:
                            maybe_absent += 1
                            if op.status == "noquorum":
                                lost_noquorum.append(op)
                    if op.status == "ok" and not covered and op.item not in present:
                        failures.append(
                            "check 2: n%d: acknowledged item %s (op #%d) is missing from %s, "
                            "and no delete could have covered it" % (ni, op.item, op.idx, key))
                        self.bad_keys.add(key)
        print("chaos: final state: %d acknowledged items that no delete could cover, %d "
              "exempt (a delete could cover them); maybe-items: %d present, %d absent; "
              "max siblings %d; %d quorum reads checked for %d acknowledged quorum-written "
              "items" % (acked_checked, exempt, maybe_present, maybe_absent, max_siblings,
                         history.quorum_reads_checked, history.quorum_items_checked),
              flush=True)
        if lost_noquorum:
            print("chaos: WARNING: %d NOQUORUM writes that no delete covered are gone "
                  "(the server promises to keep them): %s"
                  % (len(lost_noquorum), " ".join("#%d" % o.idx for o in lost_noquorum[:20])),
                  flush=True)
        if acked_checked == 0:
            failures.append("vacuous run: no acknowledged item was checked")
        return failures

    # ------------------------------------------------------------------
    def report_stats(self, clients, nemesis):
        counts = {}
        for op in self.history.ops:
            counts.setdefault(op.kind, {}).setdefault(op.status, 0)
            counts[op.kind][op.status] += 1
        print("chaos: seed %d, %d operations in %gs: %s" % (
            self.seed, len(self.history.ops), self.seconds,
            "; ".join("%s %s" % (k, ", ".join("%s=%d" % kv for kv in sorted(v.items())))
                      for k, v in sorted(counts.items()))), flush=True)
        print("chaos: faults: %s" % ", ".join("%s=%d" % kv for kv in sorted(nemesis.counts.items())),
              flush=True)
        errors = {}
        for op in self.history.ops:
            if op.status in ("error", "unknown") or (op.status == "readfail" and op.detail
                                                     and not op.detail.startswith("NOQUORUM")):
                text = op.detail.split(":")[0] if op.status != "error" else op.detail[:50]
                errors[text] = errors.get(text, 0) + 1
        if errors:
            print("chaos: errors and unknown outcomes: %s"
                  % "; ".join("%r x%d" % kv for kv in sorted(errors.items())), flush=True)

    def fail_with(self, failures, keys):
        """Prints the history of the keys involved and the node logs, keeps a
        copy of both, and fails."""
        history = self.history
        keep = tempfile.mkdtemp(prefix="causalkv-chaos-fail-%d-" % self.seed)
        for name in os.listdir(self.cluster.base):
            if name.endswith(".log"):
                shutil.copy(os.path.join(self.cluster.base, name), keep)
        with open(os.path.join(keep, "history.json"), "w") as f:
            json.dump({"seed": self.seed, "seconds": self.seconds, "failures": failures,
                       "events": history.events,
                       "ops": [op.to_json() for op in history.ops]}, f)
        out = ["CHAOS FAILURE (CHAOS_SEED=%d CHAOS_SECONDS=%g); logs and history.json kept in %s"
               % (self.seed, self.seconds, keep)]
        out += failures[:40]
        if len(failures) > 40:
            out.append("... %d more" % (len(failures) - 40))
        involved = set()
        for text in failures:
            for word in text.replace(",", " ").split():
                if word.startswith("t") and "-" in word:
                    involved.add(word)
        for key in keys[:3]:
            out.append("--- history of %s (the ops that wrote or read the items named "
                       "above, every DEL, every fault) ---" % key)
            lines = []
            for op in history.ops:
                if op.key != key:
                    continue
                if (not involved or op.kind == "del" or op.item in involved or
                        (op.read_ids and involved & set(op.read_ids)) or
                        (op.read_items and involved & op.read_items)):
                    lines.append((op.t0, op.describe()))
            lines += [(t, "%8.3f          nemesis: %s" % (t, e)) for t, e in history.events]
            lines.sort(key=lambda x: x[0])
            if len(lines) > 300:
                out.append("(%d lines; the last 300)" % len(lines))
                lines = lines[-300:]
            out += [l for _, l in lines]
        for n in self.cluster.nodes:
            out.append("--- tail of node%d.log ---" % n.index)
            try:
                with open(os.path.join(keep, "node%d.log" % n.index), "rb") as f:
                    out.append(f.read()[-3000:].decode("utf-8", "replace"))
            except OSError:
                out.append("(no log)")
        self.fail("\n".join(out))


if __name__ == "__main__":
    harness.main()
