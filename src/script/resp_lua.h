// Conversions between RESP replies and Lua values, as Redis's scripting
// tables define them (redis.io "Lua API reference", "Data type conversion").
#pragma once

#include <string_view>

#include "causalkv/resp/writer.h"

struct lua_State;

namespace causalkv::script {

// Pushes the Lua value of one complete RESP2/RESP3 reply (what redis.call
// returns): integer -> number, bulk -> string, null bulk/array -> false
// (RESP3 null -> nil), status -> {ok=...}, error -> {err=...}, array ->
// table; RESP3 map -> {map={...}}, set -> {set={k=true}}, double ->
// {double=n}, big number -> {big_number=s}, verbatim ->
// {verbatim_string={format=..., string=...}}, boolean -> boolean.
// False (nothing pushed) if `reply` is not exactly one well-formed reply.
bool PushReply(lua_State* L, std::string_view reply);

// Writes the Lua value at `index` as the script's reply: string -> bulk,
// number -> integer (truncated), boolean -> 1/null (script RESP 2) or a
// RESP3 boolean (script RESP 3), tables with err/ok/double/big_number/
// map/set/verbatim_string fields as those types, any other table -> the
// array of its elements up to the first nil, anything else -> null.
void WriteLuaValue(lua_State* L, int index, int script_resp, resp::Writer& w);

}  // namespace causalkv::script
