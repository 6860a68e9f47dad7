#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/*_fuzz.cc).

    tests/fuzz/make_corpus.py [OUT_DIR]     (default: tests/fuzz/corpus)

Each target gets OUT_DIR/<target>/ with a few small, valid (and some
deliberately broken) inputs in the exact input layout its source describes,
and some targets a libFuzzer dictionary OUT_DIR/<target>.dict. The output is
deterministic: running it again rewrites the same files, so the seeds in the
repository stay what this script makes. The file formats are written here
independently of the C++ code, from the layouts documented in
include/causalkv/persist/snapshot.h, aof.h and store/causal.h.
"""

import base64
import hashlib
import os
import re
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SELF = 0x1111111111111111  # the causal store's node id in the fuzz targets (store_check.h)
PEER_B = 0x2222222222222222
PEER_C = 0x3333333333333333
NOW = 1_700_000_000_000  # the targets' clock (ms)
HLC = NOW << 10  # a hybrid-clock counter of that time


# --- encodings ---------------------------------------------------------------


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def u8(v):
    return struct.pack("<B", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def i64(v):
    return struct.pack("<q", v)


def _crc64_table():
    poly = 0xC96C5795D7870F42  # ECMA-182, reflected
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC64_TABLE = _crc64_table()


def crc64(data):
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = CRC64_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def key_state(context, siblings, expire=None, stamp=(0, 0)):
    """store::EncodeKeyState: context [(actor, counter)], siblings [(actor, counter, value)]."""
    out = varint(len(context))
    for actor, counter in context:
        out += u64(actor) + varint(counter)
    out += varint(len(siblings))
    for actor, counter, value in siblings:
        out += u64(actor) + varint(counter) + varint(len(value)) + value
    out += varint(0) if expire is None else varint(1) + varint(expire)
    out += u64(stamp[0]) + varint(stamp[1])
    return out


STATES = {
    "one": key_state([(SELF, HLC + 1)], [(SELF, HLC + 1, b"milk")]),
    "siblings": key_state(
        [(SELF, HLC + 3), (PEER_B, HLC + 2)],
        [(PEER_B, HLC + 2, b"eggs"), (SELF, HLC + 3, b"milk flour")],
    ),
    "extra_context": key_state(
        [(SELF, HLC + 5), (PEER_B, HLC + 9), (PEER_C, HLC + 7)], [(PEER_C, HLC + 7, b"x")]
    ),
    "ttl": key_state(
        [(PEER_B, HLC + 4)], [(PEER_B, HLC + 4, b"soon")], NOW + 60_000, (PEER_B, HLC + 4)
    ),
    "expired": key_state([(SELF, HLC + 6)], [(SELF, HLC + 6, b"old")], NOW - 1, (SELF, HLC + 6)),
    "binary": key_state([(PEER_C, 1)], [(PEER_C, 1, b"\x00\r\n\xff")]),
    "tombstone": key_state([(SELF, HLC + 8), (PEER_B, HLC + 2)], []),
}


def context_token(entries):
    if not entries:
        return b"0"
    body = u8(1) + varint(len(entries))
    for actor, counter in entries:
        body += u64(actor) + varint(counter)
    h = 2166136261
    for b in body:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return base64.urlsafe_b64encode(body + u32(h)).rstrip(b"=")


# --- snapshots (persist/snapshot.h) ------------------------------------------


def snapshot_header(fmt, counter, databases=2, writer=None):
    out = b"CKVSNAP\x00" + u32(fmt) + u64(counter) + u32(databases)
    if fmt == 3:
        out += u64(writer)
    return out


def snapshot_v1(keys, counter):
    """keys: [(db, key, expire or -1, [(version, value)])]."""
    out = snapshot_header(1, counter)
    current = None
    for db, key, expire, sibs in keys:
        if db != current:
            out += u8(0x01) + u32(db)
            current = db
        out += u8(0x02) + u32(len(key)) + key + i64(expire) + u32(len(sibs))
        for version, value in sibs:
            out += u64(version) + u32(len(value)) + value
    return out + u8(0xFF)


def snapshot_v2(keys, counter):
    out = snapshot_header(2, counter)
    current = None
    for db, key, expire, sibs in keys:
        if db != current:
            out += u8(0x01) + varint(db)
            current = db
        if expire < 0:
            out += u8(0x02) + varint(len(key)) + key
        else:
            out += u8(0x03) + varint(len(key)) + key + varint(expire)
        out += varint(len(sibs))
        previous = 0
        for version, value in sibs:
            out += varint(version - previous) + varint(len(value)) + value
            previous = version
    return out + u8(0xFF)


def snapshot_v3(records, counter, writer):
    """records: [(db, key, state bytes, since or None for a live key)]."""
    out = snapshot_header(3, counter, writer=writer)
    current = None
    for db, key, state, since in records:
        if db != current:
            out += u8(0x01) + varint(db)
            current = db
        if since is None:
            out += u8(0x04) + varint(len(key)) + key
        else:
            out += u8(0x05) + varint(len(key)) + key + varint(since)
        out += varint(len(state)) + state
    return out + u8(0xFF)


SINGLE_KEYS = [
    (0, b"cart", -1, [(2, b"eggs"), (3, b"milk flour")]),
    (0, b"ttl", NOW + 60_000, [(4, b"soon")]),
    (0, b"gone", NOW - 1, [(5, b"expired")]),
    (0, b"", -1, [(6, b"")]),
    (1, b"bin\x00key", -1, [(7, b"\x00\r\n\xff")]),
]

CAUSAL_RECORDS = [
    (0, b"cart", STATES["siblings"], None),
    (0, b"ttl", STATES["ttl"], None),
    (0, b"old", STATES["expired"], None),
    (0, b"deleted", STATES["tombstone"], NOW - 5_000),
    (1, b"x", STATES["extra_context"], None),
    (1, b"bin", STATES["binary"], None),
]


# --- append-only logs (persist/aof.h) ----------------------------------------


def aof_record(fmt, payload):
    crc = crc64(payload)
    check = (~len(payload)) & 0xFFFFFFFF
    crc_bytes = u64(crc) if fmt == 1 else u32(crc & 0xFFFFFFFF)
    return u32(len(payload)) + u32(check) + crc_bytes + payload


def aof_v1(ops):
    """ops: ("set", counter, db, key, expire, [(version, value)]) | ("gone", counter, db, key)
    | ("clear", counter, db)."""
    out = b"CKVAOF1\x00"
    for op in ops:
        kind, counter, db = op[0], op[1], op[2]
        if kind == "set":
            key, expire, sibs = op[3], op[4], op[5]
            p = u8(0x01) + u64(counter) + u32(db) + u32(len(key)) + key + i64(expire)
            p += u32(len(sibs))
            for version, value in sibs:
                p += u64(version) + u32(len(value)) + value
        elif kind == "gone":
            p = u8(0x02) + u64(counter) + u32(db) + u32(len(op[3])) + op[3]
        else:
            p = u8(0x03) + u64(counter) + u32(db)
        out += aof_record(1, p)
    return out


def aof_v2(ops):
    out = b"CKVAOF2\x00"
    for op in ops:
        kind, counter, db = op[0], op[1], op[2]
        if kind == "set":
            key, expire, sibs = op[3], op[4], op[5]
            if expire < 0:
                p = u8(0x01) + varint(counter) + varint(db) + varint(len(key)) + key
            else:
                p = u8(0x04) + varint(counter) + varint(db) + varint(len(key)) + key
                p += varint(expire)
            p += varint(len(sibs))
            previous = 0
            for version, value in sibs:
                p += varint(version - previous) + varint(len(value)) + value
                previous = version
        elif kind == "gone":
            p = u8(0x02) + varint(counter) + varint(db) + varint(len(op[3])) + op[3]
        else:
            p = u8(0x03) + varint(counter) + varint(db)
        out += aof_record(2, p)
    return out


def aof_v3(ops):
    """ops: ("writer", id) | ("state", counter, db, key, state) | ("tombstone", counter, db,
    key, since, state) | ("gone", counter, db, key) | ("clear", counter, db)."""
    out = b"CKVAOF3\x00"
    for op in ops:
        kind = op[0]
        if kind == "writer":
            p = u8(0x07) + varint(0) + u64(op[1])
        elif kind == "state":
            p = u8(0x05) + varint(op[1]) + varint(op[2]) + varint(len(op[3])) + op[3] + op[4]
        elif kind == "tombstone":
            p = u8(0x06) + varint(op[1]) + varint(op[2]) + varint(len(op[3])) + op[3]
            p += varint(op[4]) + op[5]
        elif kind == "gone":
            p = u8(0x02) + varint(op[1]) + varint(op[2]) + varint(len(op[3])) + op[3]
        else:
            p = u8(0x03) + varint(op[1]) + varint(op[2])
        out += aof_record(3, p)
    return out


ALL_DBS = 0xFFFFFFFF

SINGLE_OPS = [
    ("set", 1, 0, b"cart", -1, [(1, b"milk")]),
    ("set", 2, 0, b"cart", -1, [(1, b"milk"), (2, b"eggs")]),
    ("set", 3, 0, b"ttl", NOW + 60_000, [(3, b"soon")]),
    ("set", 4, 1, b"other", -1, [(4, b"x")]),
    ("gone", 4, 0, b"ttl"),
    ("clear", 4, 1),
    ("set", 5, 1, b"other", -1, [(5, b"again")]),
    ("clear", 5, ALL_DBS),
    ("set", 6, 0, b"cart", -1, [(6, b"milk flour")]),
]

CAUSAL_OPS = [
    ("writer", SELF),
    ("state", HLC + 3, 0, b"cart", STATES["siblings"]),
    ("state", HLC + 4, 0, b"ttl", STATES["ttl"]),
    ("tombstone", HLC + 8, 0, b"deleted", NOW - 5_000, STATES["tombstone"]),
    ("writer", PEER_B),
    ("state", HLC + 9, 1, b"x", STATES["extra_context"]),
    ("gone", HLC + 9, 0, b"ttl"),
    ("clear", HLC + 10, 1),
    ("state", HLC + 11, 1, b"bin", STATES["binary"]),
]


# --- the targets -------------------------------------------------------------


def resp_parser_seeds():
    streams = {
        "ping": b"*1\r\n$4\r\nPING\r\n",
        "pipeline": (b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
                     b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"),
        "vput": b"*4\r\n$4\r\nVPUT\r\n$4\r\ncart\r\n$1\r\n0\r\n$4\r\nmilk\r\n",
        "binary": b"*2\r\n$4\r\nECHO\r\n$6\r\n\x00\r\n\xff*$\r\n",
        "empty_arg": b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
        "ignored": b"*0\r\n*-1\r\n\r\n\n",
        "inline": b"PING\r\nSET k \"a\\x41 b\\n\" 'it\\'s'\nGET k\r\n",
        "mixed": b"*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
        "partial": b"*2\r\n$3\r\nGET\r\n$10\r\nabc",
        "bad_count": b"*01\r\n$4\r\nPING\r\n",
        "bad_bulk": b"*1\r\n$-1\r\n",
        "bad_dollar": b"*1\r\n:4\r\nPING\r\n",
        "bad_quotes": b'SET "a\r\n',
        "huge_count": b"*9223372036854775807\r\n",
    }
    seeds = {}
    for name, stream in streams.items():
        seed = hashlib.sha1(name.encode()).digest()[:4]
        seeds[name] = stream + seed + b"\x00"  # mode 0: default limits
    # Mode 1: small limits (multibulk, inline, bulk from the end, before the seed).
    for name in ("pipeline", "inline", "partial"):
        seeds[name + "_limits"] = streams[name] + b"\x03\x08\x05" + b"\x11\x22\x33\x44" + b"\x01"
    return seeds


def resp_parser_dict():
    return ['"\\x0d\\x0a"', '"*"', '"$"', '"*1\\x0d\\x0a"', '"$0\\x0d\\x0a"', '"\\""', "\"'\"",
            '"\\\\x"', '"-1"', '"9223372036854775808"']


def split_args_seeds():
    lines = {
        "plain": b"set key value",
        "double": b'set "a b" "\\x41\\n\\r\\t\\b\\a\\\\\\"" c',
        "single": b"a 'b\\'c d' e",
        "glued": b'foo"bar baz" qux',
        "blanks": b" \t\x0b\x0ca\r\nb ",
        "bad_close": b'"a"b',
        "unbalanced": b"'abc",
        "binary": b"\x00\xff \x80",
        "empty_quotes": b'"" \'\'',
    }
    return lines


def config_option_names():
    with open(os.path.join(ROOT, "src", "config", "config.cc"), encoding="utf-8") as f:
        source = f.read()
    return sorted(set(re.findall(r'^    \{"([a-z0-9-]+)", (?:true|false),', source, re.M)))


CONFIG_VALUES = {
    "bind": "127.0.0.1 -::1",
    "save": '"3600 1 300 100"',
    "client-output-buffer-limit": "normal 0 0 0 replica 256mb 64mb 60",
    "peers": "127.0.0.2:7000 [::1]:7001",
    "logfile": '""',
}


def config_seeds():
    seeds = {}
    with open(os.path.join(ROOT, "conf", "causalkv.conf"), "rb") as f:
        lines = [line for line in f.read().splitlines() if line and not line.startswith(b"#")]
    seeds["causalkv.conf"] = b"# the sample config\n" + b"\n".join(lines) + b"\n"
    seeds["quoted"] = b'dir "/tmp/a dir"\nrequirepass "p\\x41ss word"\n'
    seeds["units"] = b"maxmemory 1gb\nproto-max-bulk-len 5mb\nclient-query-buffer-limit 1024kb\n"
    seeds["cluster"] = (b"peers 127.0.0.2:7000 127.0.0.3:7000\npeer-secret s\n"
                        b"write-quorum 2\nread-quorum 1\n")
    seeds["bad"] = b"port 99999\n"
    seeds["unknown"] = b"no-such-option yes\n"
    return seeds


def config_dict():
    words = config_option_names()
    words += ["yes", "no", "mb", "gb", "kb", "\\x0a", "\\\"", "'", "#", "-1", "0",
              "everysec", "allkeys-lru", "volatile-lfu", "noeviction", "debug", "warning",
              "systemd", "normal", "replica", "pubsub", "127.0.0.1:7000"]
    return ['"%s"' % w for w in words]


def snapshot_seeds():
    single_counter = 10
    causal_counter = HLC + 20
    v1 = snapshot_v1(SINGLE_KEYS, single_counter)
    v2 = snapshot_v2(SINGLE_KEYS, single_counter)
    own = snapshot_v3(CAUSAL_RECORDS, causal_counter, SELF)
    other = snapshot_v3(CAUSAL_RECORDS, causal_counter, PEER_B)
    empty2 = snapshot_v2([], 0)
    # Byte 0: bit 0 causal store, bit 1 the target appends the checksum.
    return {
        "v1_single": b"\x02" + v1,
        "v1_causal": b"\x03" + v1,
        "v2_single": b"\x02" + v2,
        "v2_causal": b"\x03" + v2,
        "v3_own": b"\x03" + own,
        "v3_other_writer": b"\x03" + other,
        "v3_single": b"\x02" + own,
        "v2_empty": b"\x02" + empty2,
        "v2_sealed": b"\x00" + v2 + u64(crc64(v2)),
        "v3_sealed": b"\x01" + own + u64(crc64(own)),
    }


def aof_seeds():
    v1 = aof_v1(SINGLE_OPS)
    v2 = aof_v2(SINGLE_OPS)
    v3 = aof_v3(CAUSAL_OPS)
    # Byte 0: bit 0 causal store, bit 1 the target reframes records, bit 2 a torn
    # tail may be cut.
    return {
        "v1_single": b"\x06" + v1,
        "v1_causal": b"\x07" + v1,
        "v2_single": b"\x06" + v2,
        "v2_causal": b"\x07" + v2,
        "v3_causal": b"\x07" + v3,
        "v3_single": b"\x06" + v3,
        "v2_torn": b"\x04" + v2[:-3],
        "v3_torn_strict": b"\x01" + v3[:-5],
        "v2_zero_tail": b"\x04" + v2 + b"\x00" * 20,
        "header_only": b"\x05CKVAOF",
    }


def high_water_mark_seeds():
    return {
        "zero": b"causalkv-hwm 1 0\n",
        "reserve": b"causalkv-hwm 1 1000000\n",
        "max": b"causalkv-hwm 1 18446744073709551615\n",
        "overflow": b"causalkv-hwm 1 18446744073709551616\n",
        "no_newline": b"causalkv-hwm 1 42",
    }


def context_token_seeds():
    return {
        "blind": b"0",
        "one": context_token([(SELF, HLC + 1)]),
        "three": context_token([(SELF, HLC + 3), (PEER_B, HLC + 2), (PEER_C, 7)]),
        "small": context_token([(1, 1)]),
        "max": context_token([(0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF)]),
    }


def key_state_seeds():
    s = STATES
    return {
        "one": s["one"],
        "siblings": s["siblings"],
        "ttl": s["ttl"],
        "tombstone": s["tombstone"],
        "pair": s["siblings"] + s["one"],
        "triple": s["siblings"] + s["extra_context"] + s["tombstone"],
        "ttl_race": s["ttl"] + s["expired"] + s["binary"],
    }


def glob_seed(pattern, subject, nocase):
    def esc(b):
        return b.replace(b"\\", b"\\\\")
    # FuzzedDataProvider: the strings from the front ("\\" + another byte ends
    # one), the nocase flag from the last byte.
    return esc(pattern) + b"\\|" + esc(subject) + (b"\x01" if nocase else b"\x00")


def glob_seeds():
    cases = [
        (b"user:*:name", b"user:1000:name", False),
        (b"h?llo", b"hello", False),
        (b"[a-c]*[^x]", b"bzzy", False),
        (b"[]a]*", b"a", False),
        (b"*a*b*c*", b"xxaxxbxxcxx", False),
        (b"HELLO*", b"hello world", True),
        (b"\\*\\?\\[", b"*?[", False),
        (b"[\\]-a]", b"^", True),
        (b"[z-a", b"q", False),
        (b"*", b"", False),
    ]
    return {"case%02d" % i: glob_seed(*c) for i, c in enumerate(cases)}


def collection(kind, *items):
    """The fuzz_collections input: a byte choosing the type (0 hash, 1 set,
    2 sorted set, 3 list, 8 stream; +4 for tiny encoding limits), then the plain-data
    form (varint count, then each item's length-prefixed bytes; a sorted
    set's member is followed by its 8-byte little-endian score)."""
    out = bytes([kind]) + bytes([len(items)])
    for item in items:
        if isinstance(item, tuple):
            out += bytes([len(item[0])]) + item[0] + struct.pack("<d", item[1])
        elif isinstance(item, list):  # a hash's field and value
            out += b"".join(bytes([len(x)]) + x for x in item)
        else:
            out += bytes([len(item)]) + item
    return out


def collections_seeds():
    return {
        "hash": collection(0, [b"f1", b"v1"], [b"f2", b""]),
        "hash_tiny_limits": collection(4, [b"a", b"1"], [b"bb", b"22"], [b"ccc", b"333"]),
        "set_ints": collection(1, b"1", b"-2", b"300"),
        "set_strings_tiny_limits": collection(5, b"x", b"yy", b"zzzzz"),
        "zset": collection(2, (b"a", 1.5), (b"b", 2.0)),
        "list": collection(3, b"a", b"", b"ccc"),
        "list_tiny_limits": collection(7, b"a", b"b", b"c", b"d"),
        # A stream (type byte 8): last ID 5-1, 2 added, no deletion, entries
        # 1-0 {f: v} and 5-1 {a: 1, b: ""}, group "g" at 1-0 (1 read) whose
        # consumer "c" holds 1-0 pending (StreamValue::Serialize).
        "stream": bytes([8, 5, 1, 2, 0, 0, 2, 1, 0, 1, 1]) + b"f" + bytes([1]) + b"v" +
                  bytes([4, 1, 2, 1]) + b"a" + bytes([1]) + b"1" + bytes([1]) + b"b" +
                  bytes([0, 1, 1]) + b"g" + bytes([1, 0, 2, 1, 1]) + b"c" +
                  bytes([14, 1, 1, 1, 0, 14, 1]),
        "stream_empty_tiny_limits": bytes([12, 0, 0, 0, 0, 0, 0, 0]),
    }


TARGETS = {
    "resp_parser": (resp_parser_seeds, resp_parser_dict),
    "split_args": (split_args_seeds, None),
    "config": (config_seeds, config_dict),
    "snapshot": (snapshot_seeds, None),
    "aof": (aof_seeds, None),
    "high_water_mark": (high_water_mark_seeds, None),
    "context_token": (context_token_seeds, None),
    "key_state": (key_state_seeds, None),
    "glob": (glob_seeds, None),
    "collections": (collections_seeds, None),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for target, (seeds, dictionary) in TARGETS.items():
        directory = os.path.join(out, target)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        for name, data in seeds().items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        if dictionary is not None:
            with open(os.path.join(out, target + ".dict"), "w", encoding="ascii") as f:
                f.write("\n".join(dictionary()) + "\n")


if __name__ == "__main__":
    main()
