#!/usr/bin/env python3
"""Every value type survives a crash, black box: hashes, lists, sets, sorted
sets (when the server has them), bitmaps and HyperLogLogs (strings), in both
encodings each, with and without TTLs, through kill -9 after SAVE, through
kill -9 with appendonly yes and appendfsync always, and through a snapshot
and a log written by a node of a cluster (the causal formats). After each
restart every key reads back exactly: type, encoding, contents, TTL."""

import shutil
import unittest

import redis

import cluster_harness
import harness


def has_zsets(r):
    try:
        r.zcard("__probe__")
        return True
    except redis.ResponseError:
        return False


def fill(r, have_zsets):
    """Writes one key of each type and encoding; returns the keys written."""
    r.hset("h:small", mapping={"f1": "v1", "f2": ""})
    r.hset("h:big", mapping={"f%d" % i: "v%d" % i for i in range(700)})
    r.rpush("l:small", "a", "b", "", "c")
    r.rpush("l:big", *["e%05d" % i for i in range(20000)])
    r.sadd("s:ints", *range(100))
    r.sadd("s:small", "x", "y")
    r.sadd("s:big", *["m%d" % i for i in range(1000)])
    r.setbit("bits", 1000, 1)
    r.pfadd("hll", *["e%d" % i for i in range(3000)])
    r.hset("h:ttl", "f", "v")
    r.expire("h:ttl", 1000)
    r.rpush("l:ttl", "x")
    r.pexpire("l:ttl", 2_000_000)
    keys = ["h:small", "h:big", "l:small", "l:big", "s:ints", "s:small", "s:big", "bits",
            "hll", "h:ttl", "l:ttl"]
    if have_zsets:
        r.zadd("z:small", {"a": 1.5, "b": -2, "c": float("inf")})
        r.zadd("z:big", {"m%d" % i: i * 0.25 for i in range(500)})
        keys += ["z:small", "z:big"]
    return keys


def snapshot(r, keys):
    """What a client sees of each key, comparable across restarts."""
    out = {}
    for k in keys:
        kind = r.type(k).decode()
        if kind == "hash":
            value = sorted(r.hgetall(k).items())
        elif kind == "list":
            value = r.lrange(k, 0, -1)
        elif kind == "set":
            value = sorted(r.smembers(k))
        elif kind == "zset":
            value = r.zrange(k, 0, -1, withscores=True)
        else:
            value = r.get(k)
        ttl = r.ttl(k)
        out[k] = (kind, r.object("encoding", k), value, ttl > 0 if ttl != -1 else -1)
    return out


class SingleNode(unittest.TestCase):
    def check_restart(self, *args, save):
        srv = harness.start_server(None, *args)
        data_dir = srv.dir
        try:
            r = redis.Redis(port=srv.port)
            keys = fill(r, has_zsets(r))
            before = snapshot(r, keys)
            if save:
                self.assertTrue(r.save())
            srv.kill9()
            srv = harness.start_server(None, *args, data_dir=data_dir)
            after = snapshot(redis.Redis(port=srv.port), keys)
            self.assertEqual(after, before)
        finally:
            srv.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_kill9_after_save(self):
        self.check_restart(save=True)

    def test_kill9_with_appendfsync_always(self):
        self.check_restart("--appendonly", "yes", "--appendfsync", "always", save=False)


class ClusterNode(unittest.TestCase):
    def test_a_node_restarts_with_every_type(self):
        cluster = cluster_harness.Cluster(3, ["--appendonly", "yes", "--appendfsync", "always",
                                              "--peer-timeout", "400"])
        try:
            a = cluster.nodes[0]
            r = a.client()
            keys = fill(r, has_zsets(r))
            before = snapshot(r, keys)
            cluster.wait_converged()
            a.kill9()
            a.start()
            cluster.wait_links_up()
            self.assertEqual(snapshot(a.client(), keys), before)
            cluster.wait_converged()
            for node in cluster.nodes:
                self.assertEqual(snapshot(node.client(), keys), before)
        finally:
            cluster.close()


if __name__ == "__main__":
    harness.main()
