#include "resp_lua.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

namespace causalkv::script {
namespace {

constexpr int kMaxDepth = 1000;

class ReplyReader {
 public:
  ReplyReader(lua_State* L, std::string_view in) : L_(L), in_(in) {}
  bool done() const { return pos_ == in_.size(); }

  // Pushes one value (or returns false, pushing nothing).
  bool Push(int depth) {
    if (depth > kMaxDepth || !lua_checkstack(L_, 4)) return false;
    std::string_view line;
    if (pos_ >= in_.size()) return false;
    const char type = in_[pos_++];
    if (!Line(&line)) return false;
    switch (type) {
      case ':': {
        int64_t v;
        if (!Int(line, &v)) return false;
        lua_pushnumber(L_, static_cast<lua_Number>(v));
        return true;
      }
      case '+':
        PushField("ok", line);
        return true;
      case '-':
        PushField("err", line);
        return true;
      case '$':
      case '=': {
        int64_t len;
        if (!Int(line, &len)) return false;
        if (len < 0) {
          lua_pushboolean(L_, 0);
          return true;
        }
        if (in_.size() - pos_ < static_cast<size_t>(len) + 2) return false;
        std::string_view body = in_.substr(pos_, static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len) + 2;
        if (type == '$') {
          lua_pushlstring(L_, body.data(), body.size());
          return true;
        }
        if (body.size() < 4) return false;
        lua_newtable(L_);
        lua_pushstring(L_, "verbatim_string");
        lua_newtable(L_);
        lua_pushstring(L_, "format");
        lua_pushlstring(L_, body.data(), 3);
        lua_rawset(L_, -3);
        lua_pushstring(L_, "string");
        lua_pushlstring(L_, body.data() + 4, body.size() - 4);
        lua_rawset(L_, -3);
        lua_rawset(L_, -3);
        return true;
      }
      case '_':
        lua_pushnil(L_);
        return true;
      case '#':
        lua_pushboolean(L_, line == "t");
        return true;
      case ',': {
        std::string text(line);
        lua_newtable(L_);
        lua_pushstring(L_, "double");
        lua_pushnumber(L_, std::strtod(text.c_str(), nullptr));
        lua_rawset(L_, -3);
        return true;
      }
      case '(':
        PushField("big_number", line);
        return true;
      case '*':
      case '>': {
        int64_t n;
        if (!Int(line, &n)) return false;
        if (n < 0) {
          lua_pushboolean(L_, 0);
          return true;
        }
        lua_createtable(L_, static_cast<int>(std::min<int64_t>(n, 1 << 20)), 0);
        for (int64_t i = 0; i < n; ++i) {
          if (!Push(depth + 1)) {
            lua_pop(L_, 1);
            return false;
          }
          lua_rawseti(L_, -2, static_cast<int>(i + 1));
        }
        return true;
      }
      case '%':
      case '~': {
        int64_t n;
        if (!Int(line, &n) || n < 0) return false;
        lua_newtable(L_);
        lua_pushstring(L_, type == '%' ? "map" : "set");
        lua_newtable(L_);
        for (int64_t i = 0; i < n; ++i) {
          if (!Push(depth + 1)) {
            lua_pop(L_, 3);
            return false;
          }
          if (type == '%') {
            if (!Push(depth + 1)) {
              lua_pop(L_, 4);
              return false;
            }
          } else {
            lua_pushboolean(L_, 1);
          }
          if (lua_isnil(L_, -2)) {
            lua_pop(L_, 2);  // a nil key cannot be stored
          } else {
            lua_rawset(L_, -3);
          }
        }
        lua_rawset(L_, -3);
        return true;
      }
      case '|': {  // attributes: read and dropped, the value follows
        int64_t n;
        if (!Int(line, &n) || n < 0) return false;
        for (int64_t i = 0; i < 2 * n; ++i) {
          if (!Push(depth + 1)) return false;
          lua_pop(L_, 1);
        }
        return Push(depth + 1);
      }
      default:
        return false;
    }
  }

 private:
  bool Line(std::string_view* line) {
    const size_t end = in_.find("\r\n", pos_);
    if (end == std::string_view::npos) return false;
    *line = in_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return true;
  }
  static bool Int(std::string_view s, int64_t* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return ec == std::errc() && p == s.data() + s.size();
  }
  void PushField(const char* field, std::string_view value) {
    lua_newtable(L_);
    lua_pushstring(L_, field);
    lua_pushlstring(L_, value.data(), value.size());
    lua_rawset(L_, -3);
  }

  lua_State* L_;
  std::string_view in_;
  size_t pos_ = 0;
};

// The field `name` of the table at `t`, pushed; returns its type.
int RawField(lua_State* L, int t, const char* name) {
  lua_pushstring(L, name);
  lua_rawget(L, t);
  return lua_type(L, -1);
}

std::string ToText(lua_State* L, int index) {
  size_t len;
  const char* s = lua_tolstring(L, index, &len);
  std::string out(s != nullptr ? s : "", s != nullptr ? len : 0);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

void Write(lua_State* L, int index, int script_resp, resp::Writer& w, int depth) {
  // As Redis, nesting is bounded by the Lua stack (about 8000 levels: a
  // table that contains itself ends there, with this error as an element).
  (void)depth;
  // Room for 5 more (not the 4 used) puts the limit at Redis's very level.
  if (!lua_checkstack(L, 5)) {
    w.Error("reached lua stack limit");
    return;
  }
  switch (lua_type(L, index)) {
    case LUA_TSTRING: {
      size_t len;
      const char* s = lua_tolstring(L, index, &len);
      w.Bulk(std::string_view(s, len));
      return;
    }
    case LUA_TBOOLEAN: {
      const bool b = lua_toboolean(L, index) != 0;
      if (script_resp == 2) {
        if (b)
          w.Integer(1);
        else
          w.Null();
      } else {
        w.Bool(b);
      }
      return;
    }
    case LUA_TNUMBER: {
      const double d = lua_tonumber(L, index);
      // As C's cast: truncated toward zero (out of range: the nearest end).
      int64_t v;
      if (std::isnan(d))
        v = INT64_MIN;
      else if (d >= 9.2233720368547758e18)
        v = INT64_MIN;
      else if (d <= -9.2233720368547758e18)
        v = INT64_MIN;
      else
        v = static_cast<int64_t>(d);
      w.Integer(v);
      return;
    }
    case LUA_TTABLE:
      break;
    default:
      w.Null();
      return;
  }
  const int t = index < 0 ? lua_gettop(L) + 1 + index : index;
  if (RawField(L, t, "err") == LUA_TSTRING) {
    std::string text = ToText(L, -1);
    lua_pop(L, 1);
    w.Error("-" + text);
    return;
  }
  lua_pop(L, 1);
  if (RawField(L, t, "ok") == LUA_TSTRING) {
    const std::string text = ToText(L, -1);
    lua_pop(L, 1);
    w.SimpleString(text);
    return;
  }
  lua_pop(L, 1);
  if (RawField(L, t, "double") == LUA_TNUMBER) {
    const double d = lua_tonumber(L, -1);
    lua_pop(L, 1);
    w.Double(d);
    return;
  }
  lua_pop(L, 1);
  if (RawField(L, t, "big_number") == LUA_TSTRING) {
    const std::string text = ToText(L, -1);
    lua_pop(L, 1);
    if (w.protocol() >= 3) {
      std::string* out = w.buffer();
      out->push_back('(');
      out->append(text);
      out->append("\r\n");
    } else {
      w.Bulk(text);
    }
    return;
  }
  lua_pop(L, 1);
  if (RawField(L, t, "map") == LUA_TTABLE) {
    const int m = lua_gettop(L);
    int64_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, m) != 0) {
      ++n;
      lua_pop(L, 1);
    }
    w.MapHeader(n);
    lua_pushnil(L);
    while (lua_next(L, m) != 0) {
      Write(L, -2, script_resp, w, depth + 1);
      Write(L, -1, script_resp, w, depth + 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  if (RawField(L, t, "set") == LUA_TTABLE) {
    const int s = lua_gettop(L);
    int64_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, s) != 0) {
      ++n;
      lua_pop(L, 1);
    }
    w.SetHeader(n);
    lua_pushnil(L);
    while (lua_next(L, s) != 0) {
      Write(L, -2, script_resp, w, depth + 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  if (RawField(L, t, "verbatim_string") == LUA_TTABLE) {
    const int v = lua_gettop(L);
    const bool has_format = RawField(L, v, "format") == LUA_TSTRING;
    const std::string format = has_format ? ToText(L, -1) : "";
    lua_pop(L, 1);
    const bool has_string = RawField(L, v, "string") == LUA_TSTRING;
    size_t len = 0;
    const char* str = has_string ? lua_tolstring(L, -1, &len) : nullptr;
    if (has_format && has_string && format.size() == 3) {
      w.Verbatim(format, std::string_view(str, len));
      lua_pop(L, 2);
      return;
    }
    lua_pop(L, 2);
  } else {
    lua_pop(L, 1);
  }
  // An array: its elements up to the first nil.
  int64_t n = 0;
  for (;;) {
    lua_rawgeti(L, t, static_cast<int>(n + 1));
    const bool nil = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (nil) break;
    ++n;
  }
  w.ArrayHeader(n);
  for (int64_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, t, static_cast<int>(i));
    Write(L, -1, script_resp, w, depth + 1);
    lua_pop(L, 1);
  }
}

}  // namespace

bool PushReply(lua_State* L, std::string_view reply) {
  ReplyReader reader(L, reply);
  if (!reader.Push(0)) return false;
  if (!reader.done()) {
    lua_pop(L, 1);
    return false;
  }
  return true;
}

void WriteLuaValue(lua_State* L, int index, int script_resp, resp::Writer& w) {
  Write(L, index, script_resp, w, 0);
}

}  // namespace causalkv::script
