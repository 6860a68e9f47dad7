#!/usr/bin/python3
"""Lua scripting and functions (EVAL EVALSHA EVAL_RO EVALSHA_RO, SCRIPT,
FUNCTION, FCALL FCALL_RO) against a real redis-server (the Debian 7.0.15
package) as the spec, byte for byte in RESP2 and RESP3 (HELLO 3).

Where Redis 7.0 and 7.2 differ, causalkv follows 7.2 and the comparison is
left out:
  * redis.REDIS_VERSION / REDIS_VERSION_NUM (ours are INFO's 7.2.4);
  * an invalid function name in redis.register_function: 7.0 reports it
    with the library-name message (a 7.0 bug), 7.2 with "Function names
    can only contain ...";
  * FUNCTION DUMP's payload is our own format (Redis's is an RDB blob):
    only the round trip and the error on garbage are checked.
Libraries come back from FUNCTION LIST in an order Redis leaves to chance:
compared sorted by name.

CAUSALKV_TEST_SUBJECT=redis-server runs the comparisons with a second
redis-server in causalkv's place, to validate the tests themselves.
"""

import os
import random
import signal
import threading
import time
import unittest

import redis

import harness
from harness import RawConnection, decode


# Scripts whose replies are compared as they are, in RESP2 and RESP3.
CONVERSIONS = [
    "return 1",
    "return -7",
    "return 3.99",
    "return -3.99",
    "return 'hello'",
    "return true",
    "return false",
    "return nil",
    "return {1, 2, 3, 'x'}",
    "return {1, 2, nil, 4}",
    "return {}",
    "return {{1, {2}}, 'a'}",
    "return {ok='FINE'}",
    "return {err='MY own error'}",
    "return {err='no code'}",
    "return redis.status_reply('PONGISH')",
    "return redis.error_reply('CODE message')",
    "return redis.error_reply('-X y')",
    "return {double=3.5}",
    "return {double=0.25}",
    "return redis.call('set', 'k', 'v')",
    "return redis.call('get', 'k')",
    "return redis.call('get', 'nokey')",
    "return type(redis.call('get', 'nokey'))",
    "return redis.call('ping')",
    "return redis.call('ping').ok",
    "return redis.pcall('incr', 'k')",
    "return redis.pcall('incr', 'k').err",
    "redis.call('del', 'l') redis.call('rpush', 'l', 'a', 'b') return redis.call('lrange', 'l', 0, -1)",
    "return redis.call('hgetall', 'nohash')",
    "return redis.call('incrbyfloat', 'f', '1.5')",
    "return redis.call('exists', 'k', 'nokey')",
    "return {redis.call('set', 'n', 0.1), redis.call('get', 'n')}",
    "return redis.call('set', 'big', 1e20) and redis.call('get', 'big')",
    "return redis.sha1hex('abc')",
    "return #KEYS + #ARGV",
    "return cjson.encode({1, 2, 'a'})",
    "return cjson.decode('[1, 2, {\"a\": 3}]')[3].a",
    "return bit.band(0xff, 0x0f)",
    "return bit.tohex(65535)",
    "return bit.bnot(0)",
    "return struct.pack('>I2i4', 258, -2)",
    "return {struct.unpack('>I2i4', struct.pack('>I2i4', 258, -2))}",
    "return struct.size('>iHd')",
    "return struct.size('!>iHd')",
    "return {struct.unpack('s', struct.pack('s', 'hi'))}",
    "return cmsgpack.pack({1, 2, 3}, 'abc', -1, 200, 70000, 1.5, 0.1, true)",
    "return cmsgpack.pack({a=1})",
    "return cmsgpack.pack(string.rep('x', 40))",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3}))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return tostring(loadstring('return 1')())",
    "return type(getmetatable(''))",
    "return type(getmetatable('').__index)",
    "return ('abc'):upper() .. string.len('xy')",
    "return type(collectgarbage)",
    "return collectgarbage('count') > 0",
    "return type(gcinfo)",
    "return type(_G)",
    "return _VERSION",
    "return {xpcall(function() error('x') end, function(e) return 'handled: ' .. e end)}",
    "return {xpcall(error, function(e) return 'h' end)}",
    "return {xpcall(function() return 1, 2 end, function(e) return e end)}",
    "return {xpcall(function() redis.call('nosuch') end, function(e) return type(e) end)}",
    "return {xpcall(function() error('x') end, function(e) error('again') end)}",
    # cjson
    "return cjson.encode({1.5, 1e100, 'a\"b', true, {x={}}})",
    "return cjson.encode({[1]=1, [3]=3})",
    "return cjson.encode(cjson.decode('{\"a\": null, \"b\": [1, 2.25, \"x\"]}'))",
    "return cjson.decode('[1, 2, null, 4]')",
    "return type(cjson.decode('null'))",
    "return cjson.encode(0.1)",
    "return cjson.encode('\\n\\t/\\1')",
    "return cjson.decode('\"\\u00e9\"')",
    # cmsgpack
    "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
    "local t = {} for i = 1, 20 do t['k' .. i] = i end return #cmsgpack.pack(t)",
    "return cmsgpack.pack(-2147483648, 2147483648, -32769, 65536, 2^40, -2^40, 2^53)",
    "return cmsgpack.pack(-0.5, 3.25, 1e300, -1e-300, 1/0, -1/0)",
    "return cmsgpack.pack(string.rep('x', 300))",
    "return #cmsgpack.pack(string.rep('x', 70000))",
    "return cmsgpack.pack({{{{{{{{{{{{{{{{{{{{1}}}}}}}}}}}}}}}}}}})",
    "return cmsgpack.pack({a={b={c={1, 2, 'x'}}}})",
    "return cmsgpack.pack(redis.call, nil, false)",
    "return {cmsgpack.unpack(cmsgpack.pack({1, 2, 3}, {x=1}, -1.5, 2^40))}",
    "local t = cmsgpack.unpack(cmsgpack.pack({a=1, b={2, 3}})) return {t.a, t.b[2]}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 1)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack('')}",
    "return {cmsgpack.unpack('\\196\\3abc')}",
    "return {cmsgpack.unpack('\\192\\194\\195')}",
    # struct
    "return struct.pack('<d>fBb', 1.5, -2.25, 255, -1)",
    "return {struct.unpack('<d>fBb', struct.pack('<d>fBb', 1.5, -2.25, 255, -1))}",
    "return struct.pack('>i8I3', -2, 65536)",
    "return {struct.unpack('>i8I3', struct.pack('>i8I3', -2, 65536))}",
    "return struct.pack('!4bi', 1, 2)",
    "return struct.pack('bxxh', 1, 2)",
    "return struct.pack('c0', 'abc')",
    "return {struct.unpack('c2c1', 'abc')}",
    "return {struct.unpack('>I2', 'xx\\1\\2', 3)}",
    "return struct.pack('>lLhH', -1, 1, -1, 1)",
    "return struct.size('!8bd')",
    "return struct.pack('=I', 1)",
    "return {pcall(error, 'x')}",
    "return {pcall(error, {err='E x'})}",
    "return {pcall(function() error({err='E y'}) end)}",
    "return {pcall(function() error('plain') end)}",
    "return {pcall(function() return 1, 2, 3 end)}",
    "return {pcall(redis.call, 'incr', 'str')}",
    "return {pcall(function() return redis.call('incr', 'str') end)}",
    "return {pcall(function(a, b) return a + b end, 2, 3)}",
    "return {pcall(nil)}",
    "local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end) "
    "return {co(1), co(10)}",
    "local co = coroutine.create(function() pcall(function() coroutine.yield(5) end) return 7 end) "
    "local a, b = coroutine.resume(co) local c, d = coroutine.resume(co) return {tostring(a), b, "
    "tostring(c), tostring(d)}",
    "local co = coroutine.create(function(x) return x end) "
    "return {coroutine.resume(co, 4)}",
    "return {coroutine.resume(coroutine.create(function() error('in co') end))}",
    "return coroutine.status(coroutine.create(function() end))",
    "coroutine.yield(1) return 2",
    "return type(unpack)",
    "return redis.replicate_commands()",
    "return redis.acl_check_cmd('get', 'x')",
    "return redis.sha1hex(123)",
    "return redis.status_reply('a\\r\\nb')",
    "return redis.error_reply('ERR a\\r\\nb')",
    "return {err='multi\\nline'}",
    "return redis.log(redis.LOG_DEBUG, 'a', 1, 'b')",
    "return redis.setresp(2)",
    "return redis.call('set', 'n2', 2^53)",
    "return redis.call('get', 'n2')",
    "return redis.call('set', 'n3', -0.0) and redis.call('get', 'n3')",
    "return redis.call('set', 'n4', 1/0) and redis.call('get', 'n4')",
    "return 2^63",
    "return -2^63",
    "return 0/0",
    "return {1, {2, {3, {4}}}, {ok='x'}, {err='y'}}",
    "return redis.acl_check_cmd('set')",
    "return redis.acl_check_cmd('config', 'get', 'x')",
    "return redis.acl_check_cmd('config')",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.LOG_WARNING",
    "return redis.call('blpop', 'nolist', 0)",
    "return redis.call('brpoplpush', 'nolist', 'other', 0)",
    "return redis.call('bzpopmin', 'nozset', 0)",
    "redis.call('rpush', 'bl', 'x') return redis.call('blpop', 'bl', 0)",
    "return redis.log(redis.LOG_NOTICE, 'from a test')",
]

RESP3_CONVERSIONS = [
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "redis.setresp(3) return {map={a=1}}",
    "redis.setresp(3) return {set={a=true}}",
    "redis.setresp(3) return {double=2.5}",
    "redis.setresp(3) return {big_number='123456789012345678901234567890'}",
    "redis.setresp(3) return {verbatim_string={format='txt', string='hi'}}",
    "redis.setresp(3) redis.call('hset', 'h3', 'f', 'v') return redis.call('hgetall', 'h3')",
    "redis.setresp(3) return redis.call('hgetall', 'h3').map.f",
    "redis.setresp(3) return type(redis.call('get', 'nokey'))",
    "redis.setresp(3) return redis.call('zscore', 'z3', 'm')",
    "redis.setresp(3) redis.call('zadd', 'z3', 1.5, 'm') return redis.call('zscore', 'z3', 'm')",
    "redis.setresp(3) return redis.call('zscore', 'z3', 'm').double",
    "redis.setresp(3) return redis.call('sismember', 'nokey', 'x')",
    "return {map={a=1}}",
    "return {set={a=true}}",
]

ERRORS = [
    "return redis.call('nosuch')",
    "return redis.call('incr', 'str')",
    "return redis.call()",
    "return redis.call('get')",
    "return redis.call({})",
    "return redis.call('multi')",
    "return redis.call('eval', 'return 1', 0)",
    "x = 1",
    "return undefined_global",
    "return os",
    "return io",
    "return require",
    "return loadfile",
    "return dofile",
    "return setfenv",
    "return getfenv",
    "return newproxy",
    "return print",
    "return module",
    "return debug",
    "getmetatable('').__index.x = 1 return 1",
    "getmetatable('').foo = 1 return 1",
    "error('boom')",
    "error({err='CUSTOM failure'})",
    "local a = nil return a.b",
    "return 1 +",
    "string.x = 1",
    "return redis.setresp(4)",
    "return redis.sha1hex()",
    "return redis.log()",
    "return redis.acl_check_cmd('nosuch')",
    "return redis.acl_check_cmd()",
    "return redis.acl_check_cmd({})",
    "return redis.acl_check_cmd('config', 'nosub')",
    "return redis.call('set', 'k')",
    "local ok, e = pcall(redis.call, 'incr', 'str') return e",
    "return cmsgpack.unpack('\\147\\1')",
    "return cjson.decode('{')",
    "return struct.pack('z')",
    "#!lua flags=bogus\nreturn 1",
    "#!python\nreturn 1",
    "#!lua name=x\nreturn 1",
    "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
    "\nerror('on line two')",
    "return redis.status_reply()",
    "return redis.status_reply(1)",
    "return redis.error_reply()",
    "return redis.error_reply(1)",
    "return redis.set_repl()",
    "return redis.set_repl(9)",
    "return redis.setresp()",
    "return redis.setresp('3')",
    "return redis.log('x', 'y')",
    "return redis.log(9, 'y')",
    "return redis.call('set', 'a', true)",
    "return redis.call('set', 'a', nil)",
    "return redis.sha1hex(1, 2)",
    "return struct.pack('i9', 1)",
    "return struct.pack('i33', 1)",
    "return {struct.unpack('<i16', struct.pack('<i16', 258))}",
    "return struct.unpack('>I4', 'ab')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.unpack('c0', 'ab')",
    "return struct.unpack('bc0', '\\5ab')",
    "return struct.unpack('I', 'abcd', 0)",
    "return struct.pack('c5', 'ab')",
    "return struct.pack('s', 'a\\0b')",
    "return struct.unpack('s', 'abc')",
    "return struct.pack('!3i', 1)",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack_one('', -1)",
    "return cmsgpack.unpack_limit('\\1', 1, 5)",
    "return cmsgpack.unpack_limit('\\1', -1)",
    "return cmsgpack.unpack_limit('\\1', 2, -3)",
    "return cmsgpack.unpack_one('\\1', 5)",
    "return cmsgpack.pack()",
    "return cjson.encode(function() end)",
    "return cjson.decode(1)",
    "return cjson.encode({[1]=1, [100]=2})",
    "local t = {} t.self = t return cjson.encode(t)",
]

LIB = ("#!lua name=mylib\n"
       "redis.register_function('echo', function(keys, args) return args[1] end)\n"
       "redis.register_function('setit', function(keys, args) "
       "return redis.call('set', keys[1], args[1]) end)\n"
       "redis.register_function{function_name='getit', callback=function(keys) "
       "return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}\n"
       "redis.register_function{function_name='badwrite', callback=function(keys) "
       "return redis.call('set', keys[1], 'x') end, flags={'no-writes', 'allow-oom'}}\n")

FUNCTION_ERRORS = [
    "return 1",
    "#!lua\nreturn 1",
    "#!lua name=a-b\nreturn 1",
    "#!lua name=lib1\nreturn 1",
    "#!lua name=lib1 foo=bar\nreturn 1",
    "#!python name=x\nreturn 1",
    "#!lua name=x\nreturn 1 +",
    "#!lua name=x\nredis.call('get', 'x')",
    "#!lua name=x\nredis.register_function('f4', 5)",
    "#!lua name=x\nredis.register_function()",
    "#!lua name=x\nredis.register_function{callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, foo=1}",
    "#!lua name=x\nx = 1",
    "#!lua name=x\nredis.register_function('a', function() end) "
    "redis.register_function('a', function() end)",
    "#!lua name=x\nredis.register_function('echo', function() end)",
    "#!lua name=x\nwhile true do end",
]


def random_lua_value(rng, depth=0):
    """A Lua literal: numbers (integers of every msgpack width, floats),
    strings of every length class, booleans, arrays and one-key maps (a
    map's order is the hash table's, left out)."""
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return str(rng.choice([0, 1, -1, 127, 128, -32, -33, 255, 256, 65535, 65536, -32768,
                               -32769, 2**31, -2**31 - 1, 2**32, 2**40, -2**40, 2**52]))
    if kind == 1:
        return repr(rng.choice([0.5, -1.25, 3.14159, 1e10 + 0.5, -2.5e-5, 1e300]))
    if kind == 2:
        n = rng.choice([0, 1, 31, 32, 255, 256, 300])
        return "string.rep('%s', %d)" % (rng.choice("abz"), n)
    if kind == 3:
        return rng.choice(["true", "false"])
    if kind == 4:
        return "'%s'" % "".join(rng.choice("xyz09") for _ in range(rng.randrange(5)))
    if kind in (5, 6):
        n = rng.choice([0, 1, 2, 15, 16, 17])
        return "{" + ", ".join(random_lua_value(rng, depth + 1) for _ in range(n)) + "}"
    return "{k=%s}" % random_lua_value(rng, depth + 1)


def sorted_libraries(reply):
    """FUNCTION LIST's libraries, and each one's functions, sorted (Redis
    lists both in its dictionaries' order)."""
    def norm(lib):
        items = list(lib.items()) if isinstance(lib, dict) else list(zip(lib[::2], lib[1::2]))
        return [(k, sorted(map(repr, v)) if k == b"functions" else repr(v)) for k, v in items]
    return sorted((norm(lib) for lib in decode(reply)), key=repr)


class ScriptingTest(harness.OracleCase):
    def setUp(self):
        self.o = RawConnection(self.oracle.port)
        self.s = RawConnection(self.server.port)
        for c in (self.o, self.s):
            c.call("FLUSHALL")
            c.call("SCRIPT", "FLUSH")
            c.call("FUNCTION", "FLUSH")
            c.call("SET", "str", "abc")

    def tearDown(self):
        self.o.close()
        self.s.close()

    def same(self, *args):
        expected = self.o.call(*args)
        got = self.s.call(*args)
        self.assertEqual(got, expected, "command %r" % (args,))
        return got

    def both(self, *args):
        for c in (self.o, self.s):
            c.call(*args)

    def test_conversions_resp2_and_resp3(self):
        for protocol in ("2", "3"):
            self.both("HELLO", protocol)
            for body in CONVERSIONS + RESP3_CONVERSIONS:
                self.same("EVAL", body, "2", "k1", "k2", "a1")

    def test_random_library_vectors(self):
        """cmsgpack, cjson and struct on random values, byte for byte."""
        rng = random.Random(7)
        for _ in range(150):
            value = random_lua_value(rng)
            self.same("EVAL", "return cmsgpack.pack(%s)" % value, "0")
            self.same("EVAL", "local v = cmsgpack.unpack(cmsgpack.pack(%s)) "
                      "return cmsgpack.pack(v)" % value, "0")
            self.same("EVAL", "return cjson.encode(%s)" % value, "0")
        formats = ["b", "B", "h", "H", "i", "I", "l", "L", "i3", "I5", ">i2", "<I6", "d", "f",
                   "!4bi", "!8bhd", ">!2bI"]
        for _ in range(150):
            fmt = "".join(rng.choice(formats) for _ in range(rng.randrange(1, 4)))
            count = sum(1 for c in fmt if c.isalpha())
            values = ", ".join(str(rng.choice([0, 1, -1, 127, 200, -300, 70000, 2**33, 1.5]))
                               for _ in range(count))
            self.same("EVAL", "return struct.pack('%s', %s)" % (fmt, values), "0")
            self.same("EVAL", "return {struct.unpack('%s', struct.pack('%s', %s))}"
                      % (fmt, fmt, values), "0")

    def test_self_containing_tables_stop_at_the_lua_stack_limit(self):
        """Nesting is bounded by the Lua stack as in Redis: the reply stops
        with an error element at the same depth, byte for byte (read raw:
        the reply nests too deep for the harness's parser)."""
        suffix = b"-ERR reached lua stack limit\r\n"
        for body in ("local t = {} t[1] = t return t",
                     "local t = {} t.map = {} t.map[1] = t return t"):
            replies = []
            for c in (self.o, self.s):
                c.send(harness.encode_command("EVAL", body, "0"))
                data = b""
                deadline = time.monotonic() + 10
                while not data.endswith(suffix) and time.monotonic() < deadline:
                    data += c.sock.recv(1 << 20)
                replies.append(data)
            self.assertEqual(replies[1], replies[0])
            self.assertTrue(replies[0].endswith(suffix))
        self.same("EVAL", "local t = {} local c = t for i = 1, 500 do c[1] = {} c = c[1] end "
                  "return t", "0")

    def test_errors(self):
        for protocol in ("2", "3"):
            self.both("HELLO", protocol)
            for body in ERRORS:
                self.same("EVAL", body, "0")
        self.same("EVAL", "return 1")
        self.same("EVAL", "return 1", "x")
        self.same("EVAL", "return 1", "-1")
        self.same("EVAL", "return 1", "2", "a")

    def test_script_commands(self):
        sha = self.same("SCRIPT", "LOAD", "return ARGV[1]")
        sha = decode(sha)
        self.same("EVALSHA", sha, "0", "x")
        self.same("EVALSHA", sha.upper(), "0", "x")
        self.same("EVALSHA_RO", sha, "0", "x")
        self.same("SCRIPT", "EXISTS", sha, "ffffffffffffffffffffffffffffffffffffffff")
        self.same("SCRIPT", "FLUSH")
        self.same("SCRIPT", "EXISTS", sha)
        self.same("EVALSHA", sha, "0", "x")
        self.same("EVALSHA", "nosuch", "0")
        self.same("SCRIPT", "LOAD", "return 1 +")
        self.same("SCRIPT", "FLUSH", "ASYNC")
        self.same("SCRIPT", "FLUSH", "SYNC")
        self.same("SCRIPT", "FLUSH", "BOGUS")
        self.same("SCRIPT", "KILL")
        self.same("SCRIPT", "HELP")
        self.same("SCRIPT", "NOSUCH")
        self.same("EVAL_RO", "return redis.call('get', 'str')", "0")
        self.same("EVAL_RO", "return redis.call('set', 'a', 'b')", "0")
        self.same("EVAL_RO", "#!lua\nreturn 1", "0")
        self.same("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', 'str')", "0")
        self.same("EVAL", "#!lua flags=no-writes,allow-oom\nreturn 1", "0")
        self.same("EVAL", "redis.call('select', 1) redis.call('set', 'db1', 'x') return 1", "0")
        self.same("GET", "db1")
        self.same("SELECT", "1")
        self.same("GET", "db1")

    def test_eval_inside_multi(self):
        self.same("MULTI")
        self.same("EVAL", "return redis.call('incr', 'm')", "0")
        self.same("EVAL", "return redis.call('incr', 'str')", "0")
        self.same("EXEC")
        self.same("GET", "m")

    def test_versioned_commands_in_scripts(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's own commands")
        reply = decode(self.s.call("EVAL", "local r = redis.call('vput', KEYS[1], '0', ARGV[1]) "
                                   "local g = redis.call('vget', KEYS[1]) return {r[1], g[2][1]}",
                                   "1", "cart", "milk"))
        self.assertEqual(reply[1], b"milk")
        self.assertEqual(decode(self.s.call("VGET", "cart"))[1], [b"milk"])

    def test_command_getkeys(self):
        for numkeys in (("0",), ("x",), ("5", "a"), ("-1",), ("2", "a", "b", "c")):
            self.same("COMMAND", "GETKEYS", "EVAL", "return 1", *numkeys)
            self.same("COMMAND", "GETKEYS", "FCALL_RO", "f", *numkeys)

    def test_client_pause_write_holds_scripts_that_may_write(self):
        self.both("SCRIPT", "LOAD", "return 1")
        self.both("FUNCTION", "LOAD", LIB)
        cases = [(("EVAL", "return 1", "0"), True),
                 (("EVAL_RO", "return 1", "0"), False),
                 (("EVAL", "#!lua flags=no-writes\nreturn 1", "0"), False),
                 (("EVAL", "#!lua\nreturn 1", "0"), True),
                 (("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"), True),
                 (("FCALL", "setit", "1", "k", "v"), True),
                 (("FCALL", "getit", "1", "k"), False),
                 (("FCALL", "nosuch", "0"), True),
                 (("FCALL_RO", "nosuch", "0"), False),
                 (("EVALSHA", "f" * 40, "0"), True),
                 (("EVALSHA_RO", "f" * 40, "0"), False)]
        for command, held in cases:
            for c in (self.o, self.s):
                c.call("CLIENT", "PAUSE", "400", "WRITE")
                start = time.monotonic()
                c.call(*command)
                waited = time.monotonic() - start
                c.call("CLIENT", "UNPAUSE")
                self.assertEqual(waited > 0.3, held, (command, c.port, waited))

    def test_maxmemory_and_allow_oom(self):
        self.both("CONFIG", "SET", "maxmemory", "1")
        try:
            for body in ("return redis.call('set', 'a', 'b')", "return 1",
                         "#!lua\nreturn redis.call('set', 'a', 'b')", "#!lua\nreturn 1",
                         "#!lua flags=allow-oom\nreturn redis.call('set', 'a', 'b')",
                         "#!lua flags=no-writes\nreturn redis.call('get', 'a')",
                         "return redis.call('get', 'a')", "return redis.call('del', 'a')"):
                self.same("EVAL", body, "0")
            self.both("FUNCTION", "LOAD", LIB)
            self.same("FCALL", "echo", "0", "x")
            self.same("FCALL", "getit", "1", "a")
            self.same("FCALL_RO", "getit", "1", "a")
        finally:
            self.both("CONFIG", "SET", "maxmemory", "0")

    def test_globals_do_not_leak(self):
        self.same("EVAL", "rawset(_G, 'leaked', 1) return 1", "0")
        self.same("EVAL", "return leaked", "0")
        self.same("EVAL", "return KEYS[1]", "1", "first")
        self.same("EVAL", "return KEYS[1]", "0")

    def test_functions(self):
        for protocol in ("2", "3"):
            self.both("HELLO", protocol)
            self.both("FUNCTION", "FLUSH")
            self.same("FUNCTION", "LOAD", LIB)
            self.same("FUNCTION", "LOAD", LIB)
            self.same("FUNCTION", "LOAD", "REPLACE", LIB)
            self.same("FCALL", "echo", "0", "hello")
            self.same("FCALL", "setit", "1", "fk", "v1")
            self.same("FCALL", "getit", "1", "fk")
            self.same("FCALL_RO", "getit", "1", "fk")
            self.same("FCALL_RO", "setit", "1", "fk", "v2")
            self.same("FCALL", "badwrite", "1", "fk")
            self.same("FCALL", "nosuch", "0")
            self.same("FCALL", "echo", "-1")
            self.same("FCALL", "echo", "3", "a")
            self.same("FCALL", "echo", "x")
            self.same("FUNCTION", "STATS")
            for body in FUNCTION_ERRORS:
                self.same("FUNCTION", "LOAD", body)
            self.same("FUNCTION", "LOAD", "#!lua name=lib2\n"
                      "redis.register_function('f5', function() error('boom') end)")
            self.same("FCALL", "f5", "0")
            self.assertEqual(sorted_libraries(self.s.call("FUNCTION", "LIST")),
                             sorted_libraries(self.o.call("FUNCTION", "LIST")))
            self.assertEqual(
                sorted_libraries(self.s.call("FUNCTION", "LIST", "WITHCODE")),
                sorted_libraries(self.o.call("FUNCTION", "LIST", "WITHCODE")))
            self.assertEqual(
                sorted_libraries(self.s.call("FUNCTION", "LIST", "LIBRARYNAME", "my*")),
                sorted_libraries(self.o.call("FUNCTION", "LIST", "LIBRARYNAME", "my*")))
            self.same("FUNCTION", "LIST", "LIBRARYNAME")
            self.same("FUNCTION", "LIST", "BOGUS")
            self.same("FUNCTION", "DELETE", "lib2")
            self.same("FUNCTION", "DELETE", "lib2")
            self.same("FCALL", "f5", "0")
            self.same("FUNCTION", "FLUSH", "BOGUS")
            self.same("FUNCTION", "RESTORE", "garbage")
            self.same("FUNCTION", "RESTORE", "garbage", "BOGUS")
            self.same("FUNCTION", "KILL")
            self.same("FUNCTION", "HELP")

    def test_function_dump_restore_round_trip(self):
        self.same("FUNCTION", "LOAD", LIB)
        payload = decode(self.s.call("FUNCTION", "DUMP"))
        self.assertIsInstance(payload, bytes)
        self.assertEqual(self.s.call("FUNCTION", "RESTORE", payload),
                         b"-ERR Library mylib already exists\r\n")
        self.assertEqual(self.s.call("FUNCTION", "FLUSH"), b"+OK\r\n")
        self.assertEqual(self.s.call("FUNCTION", "RESTORE", payload), b"+OK\r\n")
        self.assertEqual(self.s.call("FCALL", "echo", "0", "back"), b"$4\r\nback\r\n")
        self.assertEqual(self.s.call("FUNCTION", "RESTORE", payload, "REPLACE"), b"+OK\r\n")
        self.assertEqual(self.s.call("FUNCTION", "RESTORE", payload, "FLUSH"), b"+OK\r\n")
        self.assertEqual(self.s.call("FUNCTION", "RESTORE", payload[:-1]),
                         b"-ERR DUMP payload version or checksum are wrong\r\n")

    def test_info_counts_scripts_and_functions(self):
        self.s.call("SCRIPT", "LOAD", "return 1")
        self.s.call("FUNCTION", "LOAD", LIB)
        info = decode(self.s.call("INFO", "memory")).decode()
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        self.assertEqual(fields["number_of_cached_scripts"], "1")
        self.assertEqual(fields["number_of_functions"], "4")
        self.assertEqual(fields["number_of_libraries"], "1")
        self.assertGreater(int(fields["used_memory_lua"]), 0)
        if not harness.redis_as_subject():  # Redis counts its own overheads
            self.assertEqual(int(fields["used_memory_functions"]), len(LIB))
            self.assertEqual(int(fields["used_memory_scripts"]), len(LIB) + len("return 1"))
        # Every scripting field Redis reports, so clients parsing INFO find them.
        with RawConnection(self.oracle.port) as o:
            oracle = decode(o.call("INFO", "memory")).decode()
        names = [l.split(":")[0] for l in oracle.splitlines() if "memory_lua" in l or
                 "scripts" in l or "functions" in l or "libraries" in l or "_vm_" in l]
        self.assertEqual([n for n in names if n not in fields], [])


class BusyTest(unittest.TestCase):
    """A script past busy-reply-threshold: others get -BUSY, SCRIPT KILL
    (FUNCTION KILL) ends it, a script that wrote is UNKILLABLE and SHUTDOWN
    NOSAVE still stops the server."""

    @classmethod
    def setUpClass(cls):
        cls.oracle = harness.start_redis_oracle()
        cls.server = harness.start_subject()
        for srv in (cls.oracle, cls.server):
            with RawConnection(srv.port) as c:
                c.call("CONFIG", "SET", "busy-reply-threshold", "100")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.oracle.stop()

    def run_busy(self, port, start, probes):
        """Sends `start` on one connection, then each probe on another once
        the script is busy; returns the probes' replies and `start`'s."""
        runner = RawConnection(port, timeout=30)
        other = RawConnection(port, timeout=30)
        runner.send(harness.encode_command(*start))
        time.sleep(0.4)
        replies = [other.call(*probe) for probe in probes]
        replies.append(runner.read_reply())
        replies.append(runner.call("PING"))
        runner.close()
        other.close()
        return replies

    def compare(self, start, probes):
        expected = self.run_busy(self.oracle.port, start, probes)
        got = self.run_busy(self.server.port, start, probes)
        self.assertEqual(got, expected)

    def test_script_kill(self):
        self.compare(("EVAL", "while true do end", "0"),
                     [("GET", "x"), ("FUNCTION", "KILL"), ("SHUTDOWN",), ("SCRIPT", "KILL")])

    def test_the_scripts_own_pipeline_waits_for_it(self):
        body = ("local s = redis.call('time') while true do local n = redis.call('time') "
                "if (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 600000 then break end end "
                "redis.call('set', 'after', 'yes') return 'done'")
        results = []
        for srv in (self.oracle, self.server):
            runner = RawConnection(srv.port, timeout=30)
            other = RawConnection(srv.port, timeout=30)
            other.call("DEL", "after")
            runner.send(harness.encode_command("EVAL", body, "0") +
                        harness.encode_command("GET", "after"))
            time.sleep(0.3)
            busy = other.call("GET", "after")
            results.append([busy, runner.read_reply(), runner.read_reply(),
                            other.call("GET", "after")])
            runner.close()
            other.close()
        self.assertEqual(results[1], results[0])
        self.assertEqual(results[0][0][:5], b"-BUSY")

    def test_script_kill_inside_a_coroutine_of_the_script(self):
        self.compare(("EVAL", "local co = coroutine.create(function() while true do end end) "
                      "return {coroutine.resume(co)}", "0"),
                     [("PING",), ("SCRIPT", "KILL")])

    def test_script_kill_inside_pcall(self):
        self.compare(("EVAL", "local ok, e = pcall(function() while true do end end) "
                      "return {ok, e}", "0"), [("PING",), ("SCRIPT", "KILL")])

    def test_script_kill_inside_pcall_raised_again_on_the_next_line(self):
        self.compare(("EVAL", "local ok, e = pcall(function() while true do end end)\n"
                      "return {ok, e}", "0"), [("PING",), ("SCRIPT", "KILL")])

    def test_script_kill_inside_xpcall(self):
        self.compare(("EVAL", "local ok, e = xpcall(function() while true do end end, "
                      "function(e) return e end)\nreturn {ok, e}", "0"),
                     [("PING",), ("SCRIPT", "KILL")])

    def test_function_kill(self):
        for srv in (self.oracle, self.server):
            with RawConnection(srv.port) as c:
                c.call("FUNCTION", "LOAD", "REPLACE", "#!lua name=busy\n"
                       "redis.register_function('spin', function() while true do end end)")
        self.compare(("FCALL", "spin", "0"),
                     [("SET", "a", "b"), ("SCRIPT", "KILL"), ("FUNCTION", "KILL")])

    def test_sigterm_waits_for_the_script(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's own choice")
        srv = harness.start_subject("--busy-reply-threshold", "100")
        runner = RawConnection(srv.port, timeout=30)
        runner.send(harness.encode_command("EVAL", "while true do end", "0"))
        time.sleep(0.4)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        self.assertIsNone(srv.proc.poll())
        with RawConnection(srv.port) as other:
            self.assertEqual(other.call("SCRIPT", "KILL"), b"+OK\r\n")
        deadline = time.monotonic() + 10
        while srv.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(srv.proc.poll(), 0)
        runner.close()
        srv.remove_dir()

    def test_unkillable_then_shutdown_nosave(self):
        srv = harness.start_subject("--busy-reply-threshold", "100")
        runner = RawConnection(srv.port, timeout=30)
        runner.send(harness.encode_command(
            "EVAL", "redis.call('set', 'w', 1) while true do end", "0"))
        time.sleep(0.4)
        with RawConnection(srv.port) as other:
            self.assertTrue(other.call("SCRIPT", "KILL").startswith(b"-UNKILLABLE Sorry"))
            self.assertEqual(other.call("GET", "w")[:5], b"-BUSY")
            other.send(harness.encode_command("SHUTDOWN", "NOSAVE"))
            self.assertTrue(other.is_closed_by_peer(10))
        deadline = time.monotonic() + 10
        while srv.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIsNotNone(srv.proc.poll())
        runner.close()
        srv.remove_dir()


class RedisPyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_subject()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_register_script_falls_back_to_eval(self):
        r = redis.Redis(port=self.server.port)
        incr = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
        self.assertEqual(incr(keys=["c"], args=[5]), 5)
        r.script_flush()
        # EVALSHA gets NOSCRIPT, redis-py loads the script and retries.
        self.assertEqual(incr(keys=["c"], args=[2]), 7)
        self.assertEqual(r.script_exists(incr.sha), [True])

    def test_lock_acquire_extend_release_and_wait(self):
        r = redis.Redis(port=self.server.port)
        lock = r.lock("resource", timeout=5)
        self.assertTrue(lock.acquire(blocking=False))
        self.assertTrue(lock.extend(5))
        self.assertGreater(r.pttl("resource"), 5000)
        got = []

        def waiter():
            r2 = redis.Redis(port=self.server.port)
            other = r2.lock("resource", timeout=5, blocking_timeout=10)
            got.append(other.acquire())
            other.release()

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)
        self.assertEqual(got, [])
        lock.release()
        t.join(15)
        self.assertEqual(got, [True])
        self.assertFalse(r.exists("resource"))


class PersistenceTest(unittest.TestCase):
    def test_functions_survive_restart_and_script_cache_does_not(self):
        if harness.redis_as_subject():
            self.skipTest("Redis keeps functions in its RDB, which the subject does not save")
        srv = harness.start_subject()
        with RawConnection(srv.port) as c:
            self.assertEqual(c.call("FUNCTION", "LOAD", LIB), b"$5\r\nmylib\r\n")
            sha = decode(c.call("SCRIPT", "LOAD", "return 1"))
        srv.stop(remove_dir=False)
        srv = harness.start_subject(data_dir=srv.dir)
        try:
            with RawConnection(srv.port) as c:
                self.assertEqual(c.call("FCALL", "echo", "0", "again"), b"$5\r\nagain\r\n")
                self.assertEqual(c.call("SCRIPT", "EXISTS", sha), b"*1\r\n:0\r\n")
                self.assertEqual(c.call("FUNCTION", "DELETE", "mylib"), b"+OK\r\n")
        finally:
            srv.stop(remove_dir=False)
        srv = harness.start_subject(data_dir=srv.dir)
        try:
            with RawConnection(srv.port) as c:
                self.assertEqual(c.call("FCALL", "echo", "0", "x"),
                                 b"-ERR Function not found\r\n")
        finally:
            srv.stop()

    def test_kill9_during_a_busy_script_keeps_none_of_it(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's log")
        srv = harness.start_subject("--appendonly", "yes", "--appendfsync", "always",
                                    "--busy-reply-threshold", "100")
        runner = RawConnection(srv.port)
        with RawConnection(srv.port) as c:
            self.assertEqual(c.call("SET", "before", "1"), b"+OK\r\n")
            runner.send(harness.encode_command(
                "EVAL", "for i = 1, 50 do redis.call('set', 'half' .. i, 'x') end "
                "while true do end", "0"))
            time.sleep(0.5)
            # Suspended, the loop turning: the writes so far are not logged.
            self.assertEqual(c.call("GET", "half1")[:5], b"-BUSY")
        srv.kill9()
        runner.close()
        srv = harness.start_subject("--appendonly", "yes", data_dir=srv.dir)
        try:
            with RawConnection(srv.port) as c:
                self.assertEqual(c.call("GET", "before"), b"$1\r\n1\r\n")
                self.assertEqual(c.call("EXISTS", *["half%d" % i for i in range(1, 51)]),
                                 b":0\r\n")
        finally:
            srv.stop()

    def test_kill9_keeps_a_script_whole(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's log")
        srv = harness.start_subject("--appendonly", "yes", "--appendfsync", "always")
        body = "for i = 1, 200 do redis.call('set', 'k' .. i, ARGV[1]) end return 1"
        with RawConnection(srv.port) as c:
            for round_ in range(5):
                self.assertEqual(c.call("EVAL", body, "0", "v%d" % round_), b":1\r\n")
        srv.kill9()
        srv = harness.start_subject("--appendonly", "yes", data_dir=srv.dir)
        try:
            with RawConnection(srv.port) as c:
                values = [decode(c.call("GET", "k%d" % i)) for i in range(1, 201)]
                self.assertEqual(set(values), {b"v4"})
                with open(os.path.join(srv.dir, "appendonly.ckv"), "rb") as log:
                    self.assertNotIn(b"EVAL", log.read())
        finally:
            srv.stop()


class ClusterScriptTest(unittest.TestCase):
    """A script's effects reach the peers as key states; the EVAL's reply
    comes once its writes reached the write quorum."""

    def test_script_writes_replicate(self):
        if harness.redis_as_subject():
            self.skipTest("causalkv's cluster")
        import cluster_harness
        cluster = cluster_harness.Cluster(3, ["--peer-timeout", "400", "--write-quorum", "3"])
        try:
            a, b, c = (n.client() for n in cluster.nodes)
            body = ("redis.call('set', KEYS[1], ARGV[1]) redis.call('rpush', KEYS[2], 'x', 'y') "
                    "local n = redis.call('incr', 'counter') "
                    "redis.call('select', 1) redis.call('set', KEYS[1], 'db1') return n")
            self.assertEqual(a.eval(body, 2, "k", "l", "v"), 1)
            # W=3: every replica holds the writes once EVAL has replied.
            for r in (b, c):
                self.assertEqual(r.get("k"), b"v")
                self.assertEqual(r.lrange("l", 0, -1), [b"x", b"y"])
            self.assertEqual(b.eval("return redis.call('incr', 'counter')", 0), 2)
            with self.assertRaisesRegex(redis.ResponseError, "no-cluster"):
                a.eval("#!lua flags=no-cluster\nreturn 1", 0)
            c.execute_command("SELECT", 1)
            self.assertEqual(c.get("k"), b"db1")
            cluster.wait_converged()
            cluster.wait_converged(db=1)
        finally:
            cluster.close()

    def test_busy_script_in_a_cluster(self):
        """Past busy-reply-threshold a script in a cluster is paused as on
        one node (other clients get -BUSY, SCRIPT KILL answers), and the writes
        of all its slices reach the peers together once it ends: its reply
        waits for their write quorum."""
        if harness.redis_as_subject():
            self.skipTest("causalkv's cluster")
        import cluster_harness
        cluster = cluster_harness.Cluster(3, ["--peer-timeout", "2000", "--write-quorum", "3",
                                              "--busy-reply-threshold", "100"])
        try:
            cluster.wait_links_up()
            a, b = cluster.nodes[0], cluster.nodes[1]
            body = ("redis.call('set', KEYS[1], 'first') local n = 0 "
                    "for i = 1, 600000000 do n = n + 1 end "
                    "redis.call('set', KEYS[2], 'last') return n")
            runner = a.client(timeout=60)
            result = {}
            thread = threading.Thread(
                target=lambda: result.update(reply=runner.eval(body, 2, "s1", "s2")))
            thread.start()
            other = a.client()
            deadline = time.monotonic() + 10
            busy = None
            while busy is None and time.monotonic() < deadline:
                try:
                    other.ping()
                    time.sleep(0.02)
                except redis.ResponseError as e:
                    busy = str(e)
            self.assertIsNotNone(busy, "no -BUSY while the script ran")
            self.assertTrue(busy.startswith("BUSY"), busy)
            with self.assertRaisesRegex(redis.ResponseError, "UNKILLABLE"):
                other.execute_command("SCRIPT", "KILL")  # it wrote already
            # Nothing of a script still running reaches the peers.
            self.assertIsNone(b.client().get("s1"))
            thread.join(60)
            self.assertEqual(result.get("reply"), 600000000)
            for node in cluster.nodes[1:]:
                r = node.client()
                self.assertEqual((r.get("s1"), r.get("s2")), (b"first", b"last"))
        finally:
            cluster.close()


if __name__ == "__main__":
    harness.main()
