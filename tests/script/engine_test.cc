// script::Engine without a server: conversions, sandbox, libraries.
#include "causalkv/script/engine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::string_literals;

namespace causalkv::script {
namespace {

// Answers redis.call with canned replies by command name.
class FakeHandler : public CallHandler {
 public:
  void Call(std::span<const std::string_view> args, int resp, std::string* reply) override {
    calls.emplace_back(args.begin(), args.end());
    last_resp = resp;
    const std::string name(args[0]);
    if (name == "int")
      *reply = ":42\r\n";
    else if (name == "nil")
      *reply = "$-1\r\n";
    else if (name == "status")
      *reply = "+PONG\r\n";
    else if (name == "err")
      *reply = "-WRONGTYPE bad type\r\n";
    else if (name == "arr")
      *reply = "*3\r\n$1\r\na\r\n:1\r\n*-1\r\n";
    else if (name == "map")
      *reply = "%1\r\n$1\r\nk\r\n,1.5\r\n";
    else if (name == "null3")
      *reply = "_\r\n";
    else if (name == "bool3")
      *reply = "#t\r\n";
    else
      *reply =
          "$" + std::to_string(args.back().size()) + "\r\n" + std::string(args.back()) + "\r\n";
  }
  TickAction Tick() override {
    ++ticks;
    if (kill_at != 0 && ticks >= kill_at) return TickAction::kKill;
    return yield_every ? TickAction::kYield : TickAction::kContinue;
  }
  bool CommandExists(std::span<const std::string_view> args) override {
    return args[0] != "nosuch";
  }
  bool yield_every = false;
  int ticks = 0;
  int kill_at = 0;
  std::vector<std::vector<std::string>> calls;
  int last_resp = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  // Runs `body` with the keys/args given; returns the RESP reply.
  std::string Eval(const std::string& body, std::vector<std::string_view> keys = {},
                   std::vector<std::string_view> argv = {}, int protocol = 2) {
    std::string sha, error;
    if (!engine.LoadScript(body, &sha, &error)) return "COMPILE:" + error;
    std::string out;
    resp::Writer w(&out, protocol);
    engine.RunScript(sha, keys, argv, handler, w);
    return out;
  }
  Engine engine;
  FakeHandler handler;
};

TEST_F(EngineTest, Sha1MatchesKnownVectors) {
  EXPECT_EQ(Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex(std::string(1000, 'a')), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

TEST_F(EngineTest, LuaToResp2) {
  EXPECT_EQ(Eval("return 'x'"), "$1\r\nx\r\n");
  EXPECT_EQ(Eval("return 3.99"), ":3\r\n");
  EXPECT_EQ(Eval("return -3.99"), ":-3\r\n");
  EXPECT_EQ(Eval("return true"), ":1\r\n");
  EXPECT_EQ(Eval("return false"), "$-1\r\n");
  EXPECT_EQ(Eval("return nil"), "$-1\r\n");
  EXPECT_EQ(Eval("return {1,2,nil,4}"), "*2\r\n:1\r\n:2\r\n");
  EXPECT_EQ(Eval("return {ok='FINE'}"), "+FINE\r\n");
  EXPECT_EQ(Eval("return {err='MY bad'}"), "-MY bad\r\n");
  EXPECT_EQ(Eval("return redis.error_reply('E x')"), "-E x\r\n");
  EXPECT_EQ(Eval("return redis.status_reply('S')"), "+S\r\n");
  EXPECT_EQ(Eval("return {double=3.5}"), "$3\r\n3.5\r\n");
  EXPECT_EQ(Eval("return {map={a=1}}"), "*2\r\n$1\r\na\r\n:1\r\n");
}

TEST_F(EngineTest, LuaToResp3) {
  EXPECT_EQ(Eval("redis.setresp(3) return true", {}, {}, 3), "#t\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return false", {}, {}, 3), "#f\r\n");
  EXPECT_EQ(Eval("return false", {}, {}, 3), "_\r\n");
  EXPECT_EQ(Eval("return {double=3.5}", {}, {}, 3), ",3.5\r\n");
  EXPECT_EQ(Eval("return {map={a=1}}", {}, {}, 3), "%1\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(Eval("return {set={a=true}}", {}, {}, 3), "~1\r\n$1\r\na\r\n");
  EXPECT_EQ(Eval("return {big_number='123'}", {}, {}, 3), "(123\r\n");
  EXPECT_EQ(Eval("return {verbatim_string={format='txt', string='hi'}}", {}, {}, 3),
            "=6\r\ntxt:hi\r\n");
}

TEST_F(EngineTest, RespToLua) {
  EXPECT_EQ(Eval("return redis.call('int')"), ":42\r\n");
  EXPECT_EQ(Eval("return type(redis.call('nil'))"), "$7\r\nboolean\r\n");
  EXPECT_EQ(Eval("return redis.call('status').ok"), "$4\r\nPONG\r\n");
  EXPECT_EQ(Eval("return redis.pcall('err').err"), "$18\r\nWRONGTYPE bad type\r\n");
  EXPECT_EQ(Eval("local t = redis.call('arr') return {t[1], t[2], type(t[3])}"),
            "*3\r\n$1\r\na\r\n:1\r\n$7\r\nboolean\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) local m = redis.call('map') return m.map.k.double * 2"),
            ":3\r\n");
  EXPECT_EQ(handler.last_resp, 3);
  EXPECT_EQ(Eval("redis.setresp(3) return type(redis.call('null3'))"), "$3\r\nnil\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('bool3') == true"), ":1\r\n");
}

TEST_F(EngineTest, ArgumentsAndErrors) {
  EXPECT_EQ(Eval("return redis.call('echo', KEYS[1], ARGV[1], 3, 0.5)", {"k"}, {"a"}),
            "$3\r\n0.5\r\n");
  EXPECT_EQ(handler.calls.back(), (std::vector<std::string>{"echo", "k", "a", "3", "0.5"}));
  const std::string sha = Sha1Hex("return redis.call('err')");
  EXPECT_EQ(Eval("return redis.call('err')"),
            "-WRONGTYPE bad type script: " + sha + ", on @user_script:1.\r\n");
  EXPECT_EQ(Eval("return redis.call({})").substr(0, 60),
            "-ERR Lua redis lib command arguments must be strings or inte");
  EXPECT_EQ(Eval("return 1 +"),
            "COMPILE:ERR Error compiling script (new function): user_script:1: unexpected symbol "
            "near '<eof>'");
}

TEST_F(EngineTest, SandboxKeepsGlobalsApart) {
  EXPECT_NE(Eval("x = 1").find("Attempt to modify a readonly table"), std::string::npos);
  EXPECT_NE(Eval("return undefined_thing").find("nonexistent global variable 'undefined_thing'"),
            std::string::npos);
  EXPECT_NE(Eval("rawset(_G, 'leak', 1) return 1"), "");
  EXPECT_NE(Eval("return leak").find("nonexistent global"), std::string::npos);
  EXPECT_NE(Eval("loadstring('y = 2')()").find("readonly"), std::string::npos);
  EXPECT_NE(Eval("string.x = 1").find("readonly"), std::string::npos);
  for (const char* name : {"os", "io", "require", "loadfile", "dofile"}) {
    EXPECT_NE(Eval(std::string("return ") + name).find("nonexistent global"), std::string::npos)
        << name;
  }
  EXPECT_EQ(Eval("return #KEYS + #ARGV", {"a", "b"}, {"c"}), ":3\r\n");
  EXPECT_EQ(Eval("return #KEYS"), ":0\r\n");
}

TEST_F(EngineTest, Shebang) {
  std::string sha, error;
  uint32_t flags = 0;
  ASSERT_TRUE(engine.LoadScript("#!lua flags=no-writes,allow-oom\nreturn 1", &sha, &error));
  ASSERT_TRUE(engine.FindScript(sha, &flags));
  EXPECT_EQ(flags, kHasShebang | kNoWrites | kAllowOom);
  EXPECT_FALSE(engine.LoadScript("#!lua flags=bogus\nreturn 1", &sha, &error));
  EXPECT_EQ(error, "ERR Unexpected flag in script shebang: bogus");
  EXPECT_FALSE(engine.LoadScript("#!python\nreturn 1", &sha, &error));
  EXPECT_EQ(error, "ERR Unexpected engine in script shebang: #!python");
  EXPECT_EQ(Eval("#!lua\nreturn error('x')").substr(0, 22), "-ERR user_script:2: x ");
}

TEST_F(EngineTest, CjsonAndBit) {
  EXPECT_EQ(Eval("return cjson.encode({1,2,'a'})"), "$9\r\n[1,2,\"a\"]\r\n");
  EXPECT_EQ(Eval("return cjson.decode('{\"a\":[1,2]}').a[2]"), ":2\r\n");
  EXPECT_EQ(Eval("return bit.tohex(bit.bxor(0xff, 0x0f))"), "$8\r\n000000f0\r\n");
  EXPECT_EQ(Eval("return bit.lshift(1, 31)"), ":-2147483648\r\n");
}

TEST_F(EngineTest, StructRoundTrips) {
  EXPECT_EQ(Eval("return struct.pack('>I2', 258)"), "$2\r\n\x01\x02\r\n");
  EXPECT_EQ(Eval("return struct.pack('<i4', -2)"), std::string("$4\r\n\xfe\xff\xff\xff\r\n"));
  EXPECT_EQ(Eval("return {struct.unpack('>I2', '\\1\\2')}"), "*2\r\n:258\r\n:3\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('<h', '\\254\\255')}"), "*2\r\n:-2\r\n:3\r\n");
  EXPECT_EQ(Eval("return struct.size('>iHd')"), ":14\r\n");
  EXPECT_EQ(Eval("return struct.size('!>iHd')"), ":16\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('s', struct.pack('s', 'hi'))}"),
            "*2\r\n$2\r\nhi\r\n:4\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('bc0', struct.pack('bc0', 3, 'abc'))}"),
            "*2\r\n$3\r\nabc\r\n:5\r\n");
  EXPECT_EQ(Eval("return struct.unpack('>d', struct.pack('>d', 1.5)) * 2"), ":3\r\n");
}

TEST_F(EngineTest, CmsgpackKnownVectors) {
  EXPECT_EQ(Eval("return cmsgpack.pack({1,2,3})"), "$4\r\n\x93\x01\x02\x03\r\n");
  EXPECT_EQ(Eval("return cmsgpack.pack(-1, 200, 70000)"),
            "$8\r\n\xff\xcc\xc8\xce\x00\x01\x11\x70\r\n"s);
  EXPECT_EQ(Eval("return cmsgpack.pack(1.5)"), "$5\r\n\xca\x3f\xc0\x00\x00\r\n"s);
  EXPECT_EQ(Eval("return cmsgpack.pack('abc', true, false)"),
            "$6\r\n\xa3"
            "abc\xc3\xc2\r\n");
  EXPECT_EQ(Eval("return cmsgpack.pack({a=1})"),
            "$4\r\n\x81\xa1"
            "a\x01\r\n");
  EXPECT_EQ(Eval("local t = cmsgpack.unpack(cmsgpack.pack({1, {x='y'}, 'z'})) "
                 "return {t[1], t[2].x, t[3]}"),
            "*3\r\n:1\r\n$1\r\ny\r\n$1\r\nz\r\n");
  EXPECT_EQ(Eval("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2))}"), "*2\r\n:1\r\n:1\r\n");
  EXPECT_EQ(Eval("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 1)}"), "*2\r\n:-1\r\n:2\r\n");
  EXPECT_NE(Eval("return cmsgpack.unpack('\\147\\1')").find("Missing bytes in input."),
            std::string::npos);
}

TEST_F(EngineTest, FunctionsLoadCallAndDump) {
  std::string name, error;
  ASSERT_TRUE(engine.LoadLibrary(
      "#!lua name=lib\nredis.register_function('echo', function(keys, args) return args[1] end)\n"
      "redis.register_function{function_name='ro', callback=function() return 1 end, "
      "flags={'no-writes'}, description='d'}",
      false, &name, &error))
      << error;
  EXPECT_EQ(name, "lib");
  const Function* fn = engine.FindFunction("ro");
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(fn->flags, kNoWrites);
  EXPECT_EQ(fn->description, "d");
  std::string out;
  resp::Writer w(&out);
  std::vector<std::string_view> none, args{"hi"};
  engine.RunFunction(*engine.FindFunction("echo"), none, args, handler, w);
  EXPECT_EQ(out, "$2\r\nhi\r\n");
  EXPECT_FALSE(engine.LoadLibrary("#!lua name=lib\nredis.register_function('x', function() end)",
                                  false, &name, &error));
  EXPECT_EQ(error, "ERR Library 'lib' already exists");
  EXPECT_FALSE(
      engine.LoadLibrary("#!lua name=other\nredis.call('get', 'x')", false, &name, &error));
  EXPECT_EQ(error,
            "ERR Error registering functions: ERR user_function:2: Script attempted to "
            "access nonexistent global variable 'call'");
  const std::string dump = engine.DumpLibraries();
  engine.FlushLibraries();
  EXPECT_EQ(engine.FindFunction("echo"), nullptr);
  ASSERT_TRUE(engine.RestoreLibraries(dump, "APPEND", &error)) << error;
  EXPECT_NE(engine.FindFunction("echo"), nullptr);
  EXPECT_FALSE(engine.RestoreLibraries(dump, "APPEND", &error));
  EXPECT_EQ(error, "ERR Library lib already exists");
  EXPECT_FALSE(engine.RestoreLibraries("garbage", "APPEND", &error));
  EXPECT_EQ(error, "ERR DUMP payload version or checksum are wrong");
}

// Every error path of the C functions, for the sanitizers: Lua 5.1 unwinds
// with longjmp, so an error raised with a C++ string alive would leak.
TEST_F(EngineTest, ErrorPathsLeaveNothingBehind) {
  for (const char* body : {"return redis.call()",
                           "return redis.call({})",
                           "return redis.call('err')",
                           "return redis.pcall('err')",
                           "return redis.sha1hex()",
                           "return redis.log()",
                           "return redis.log('x', 'y')",
                           "return redis.log(9, 'y')",
                           "return redis.setresp(5)",
                           "return redis.set_repl(9)",
                           "return redis.error_reply(1)",
                           "return redis.status_reply()",
                           "return redis.acl_check_cmd('nosuch')",
                           "return redis.acl_check_cmd()",
                           "return struct.pack('z')",
                           "return struct.pack('i9', 1)",
                           "return struct.unpack('>I4', 'ab')",
                           "return struct.size('s')",
                           "return struct.pack('c5', 'ab')",
                           "return cmsgpack.unpack('\\193')",
                           "return cmsgpack.unpack_one('', -1)",
                           "return cmsgpack.unpack_limit('\\1', 1, 5)",
                           "return cmsgpack.pack()",
                           "return cjson.decode('{')",
                           "return nosuchglobal",
                           "x = 1",
                           "string.x = 1",
                           "rawset(string, 'x', 1)",
                           "error()",
                           "error(nil)",
                           "error({})",
                           "return loadstring('x =')",
                           "coroutine.yield()"}) {
    const std::string reply = Eval(body);
    EXPECT_FALSE(reply.empty()) << body;
  }
  std::string name, error;
  for (const char* code :
       {"#!lua name=l\nredis.register_function{function_name='f', callback=function() end, "
        "flags={'bad'}}",
        "#!lua name=l\nredis.register_function{callback=function() end, foo=1}",
        "#!lua name=l\nredis.register_function('f-1', function() end)",
        "#!lua name=l\nredis.register_function('f', function() end) "
        "redis.register_function('f', function() end)",
        "#!lua name=l\nredis.register_function('f', 1)", "#!lua name=l\nerror('x')",
        "#!lua name=l\nreturn nosuch"}) {
    EXPECT_FALSE(engine.LoadLibrary(code, false, &name, &error)) << code;
  }
  EXPECT_EQ(engine.function_count(), 0u);
  EXPECT_FALSE(
      engine.LoadLibrary("#!lua name=l\npcall(function() while true do end end)\n"
                         "while true do end",
                         false, &name, &error));
  EXPECT_EQ(error, "ERR Error registering functions: ERR FUNCTION LOAD timeout");
}

// A script yielded by the hook (past busy-reply-threshold) goes on where
// it stopped, also from inside pcall and a coroutine of its own, and a
// yield of its own is still a yield for its coroutines.
TEST_F(EngineTest, PausesAndResumesThroughPcallAndCoroutines) {
  handler.yield_every = true;
  const std::string body =
      "local n = 0 for i = 1, 300000 do n = n + 1 end "
      "local ok, m = pcall(function() local k = 0 for i = 1, 300000 do k = k + 1 end return k end) "
      "local co = coroutine.wrap(function() local j = 0 for i = 1, 300000 do j = j + 1 end "
      "coroutine.yield(j) return 'second' end) "
      "return {n, tostring(ok), m, co(), co()}";
  std::string sha, error;
  ASSERT_TRUE(engine.LoadScript(body, &sha, &error)) << error;
  std::string out;
  resp::Writer w(&out);
  int pauses = 0;
  Engine::RunStatus status = engine.RunScript(sha, {}, {}, handler, w);
  while (status == Engine::RunStatus::kSuspended) {
    ++pauses;
    ASSERT_TRUE(out.empty());
    status = engine.Resume(w);
  }
  EXPECT_GE(pauses, 6);
  EXPECT_EQ(out, "*5\r\n:300000\r\n$4\r\ntrue\r\n:300000\r\n:300000\r\n$6\r\nsecond\r\n");
}

TEST_F(EngineTest, KillEndsTheScriptEvenInsidePcall) {
  handler.kill_at = 3;
  EXPECT_EQ(Eval("local ok = pcall(function() while true do end end)\nreturn 'survived'"),
            "-ERR Script killed by user with SCRIPT KILL... script: " +
                Sha1Hex("local ok = pcall(function() while true do end end)\nreturn 'survived'") +
                ", on @user_script:2.\r\n");
}

}  // namespace
}  // namespace causalkv::script
