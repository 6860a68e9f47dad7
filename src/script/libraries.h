// The `struct` and `cmsgpack` libraries Redis gives scripts, written for
// causalkv against the Lua 5.1 C API (Debian packages neither; cjson and
// bit come from Debian's lua-cjson-dev and lua-bitop-dev).
//
// struct: pack(fmt, ...), unpack(fmt, data [, init]), size(fmt), with the
// format of Roberto Ierusalimschy's struct library as Redis embeds it:
// < > ! endianness and alignment, x padding, b B h H l L T i[n] I[n]
// integers, f d floats, c[n] fixed strings, s zero-terminated strings.
//
// cmsgpack: pack(...), unpack(data), unpack_one(data [, offset]),
// unpack_limit(data, limit [, offset]), encoding numbers, strings, tables
// (arrays when their keys are exactly 1..n), booleans and nil as Redis's
// lua_cmsgpack does (smallest integer form; float32 when exact; str8).
#pragma once

struct lua_State;

namespace causalkv::script {

// lua_CFunction openers: each leaves its library table on the stack.
int OpenStruct(lua_State* L);
int OpenCmsgpack(lua_State* L);

}  // namespace causalkv::script
