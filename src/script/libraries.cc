#include "libraries.h"

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

namespace causalkv::script {
namespace {

// ---------------------------------------------------------------- struct

// Integers of up to 32 bytes, as Redis's struct allows; past 8 bytes the
// value is padded with zero bytes (and only its low 8 bytes are read).
constexpr int kMaxIntSize = 32;
// The strictest alignment of this platform ("!" without a number).
constexpr int kNativeAlign = 8;  // a double or a pointer on x86-64

struct FormatState {
  bool little = true;  // x86-64
  int max_align = 1;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int ReadNumber(const char** fmt, int def) {
  if (!IsDigit(**fmt)) return def;
  int n = 0;
  while (IsDigit(**fmt) && n < 100000) n = n * 10 + (*(*fmt)++ - '0');
  return n;
}

// Size of the option `opt` (its digits read from *fmt). Changes `h` for
// the endianness and alignment options, which have size 0.
size_t OptionSize(lua_State* L, char opt, const char** fmt, FormatState* h) {
  switch (opt) {
    case 'B':
    case 'b':
      return 1;
    case 'H':
    case 'h':
      return 2;
    case 'L':
    case 'l':
      return sizeof(long);
    case 'T':
      return sizeof(size_t);
    case 'f':
      return sizeof(float);
    case 'd':
      return sizeof(double);
    case 'x':
      return 1;
    case 'c':
      return static_cast<size_t>(ReadNumber(fmt, 1));
    case 'i':
    case 'I': {
      const int n = ReadNumber(fmt, sizeof(int));
      if (n > kMaxIntSize)
        luaL_error(L, "integral size %d is larger than limit of %d", n, kMaxIntSize);
      return static_cast<size_t>(n);
    }
    case ' ':
      return 0;
    case '<':
      h->little = true;
      return 0;
    case '>':
      h->little = false;
      return 0;
    case '!': {
      const int a = ReadNumber(fmt, kNativeAlign);
      if (a & (a - 1)) luaL_error(L, "alignment %d is not a power of 2", a);
      h->max_align = a;
      return 0;
    }
    case 's':
      return 0;
    default:
      luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
      return 0;
  }
}

// Padding needed before an option of `size` at offset `total`.
size_t Gap(char opt, size_t size, size_t total, const FormatState& h) {
  if (size <= 1 || opt == 'c') return 0;
  size_t align = size < static_cast<size_t>(h.max_align) ? size : static_cast<size_t>(h.max_align);
  return (align - (total & (align - 1))) & (align - 1);
}

void PutInteger(luaL_Buffer* b, uint64_t v, bool little, size_t size) {
  char buf[kMaxIntSize];
  for (size_t i = 0; i < size; ++i) {
    const char byte = i < 8 ? static_cast<char>(v >> (8 * i)) : '\0';
    buf[little ? i : size - 1 - i] = byte;
  }
  luaL_addlstring(b, buf, size);
}

int StructPack(lua_State* L) {
  FormatState h;
  const char* fmt = luaL_checkstring(L, 1);
  int arg = 2;
  size_t total = 0;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while (*fmt != '\0') {
    const char opt = *fmt++;
    size_t size = OptionSize(L, opt, &fmt, &h);
    const size_t gap = Gap(opt, size, total, h);
    total += gap;
    for (size_t i = 0; i < gap; ++i) luaL_addchar(&b, '\0');
    switch (opt) {
      case 'b':
      case 'B':
      case 'h':
      case 'H':
      case 'l':
      case 'L':
      case 'T':
      case 'i':
      case 'I': {
        const lua_Number n = luaL_checknumber(L, arg++);
        const bool is_signed = opt == 'b' || opt == 'h' || opt == 'l' || opt == 'i';
        const uint64_t v = is_signed ? static_cast<uint64_t>(static_cast<int64_t>(n))
                                     : (n < 0 ? static_cast<uint64_t>(static_cast<int64_t>(n))
                                              : static_cast<uint64_t>(n));
        PutInteger(&b, v, h.little, size);
        break;
      }
      case 'x':
        luaL_addchar(&b, '\0');
        break;
      case 'f': {
        const float f = static_cast<float>(luaL_checknumber(L, arg++));
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        PutInteger(&b, bits, h.little, 4);
        break;
      }
      case 'd': {
        const double d = luaL_checknumber(L, arg++);
        uint64_t bits;
        std::memcpy(&bits, &d, 8);
        PutInteger(&b, bits, h.little, 8);
        break;
      }
      case 'c':
      case 's': {
        size_t len;
        const char* s = luaL_checklstring(L, arg, &len);
        // As Redis's struct: 's' takes the whole string (zeros included)
        // plus a terminating zero; the error names the next argument.
        if (opt == 's') {
          size = len + 1;
          luaL_addlstring(&b, s, size);
        } else {
          if (size == 0) size = len;
          luaL_argcheck(L, len >= size, arg + 1, "string too short");
          luaL_addlstring(&b, s, size);
        }
        ++arg;
        break;
      }
      default:
        break;
    }
    total += size;
  }
  luaL_pushresult(&b);
  return 1;
}

uint64_t GetInteger(const char* p, bool little, size_t size) {
  uint64_t v = 0;
  for (size_t i = 0; i < size && i < 8; ++i) {
    const unsigned char byte = static_cast<unsigned char>(p[little ? i : size - 1 - i]);
    v |= uint64_t{byte} << (8 * i);
  }
  return v;
}

int StructUnpack(lua_State* L) {
  FormatState h;
  const char* fmt = luaL_checkstring(L, 1);
  size_t len;
  const char* data = luaL_checklstring(L, 2, &len);
  const lua_Integer init = luaL_optinteger(L, 3, 1);
  luaL_argcheck(L, init > 0, 3, "offset must be 1 or greater");
  size_t pos = static_cast<size_t>(init) - 1;
  int results = 0;
  while (*fmt != '\0') {
    const char opt = *fmt++;
    size_t size = OptionSize(L, opt, &fmt, &h);
    pos += Gap(opt, size, pos, h);
    luaL_argcheck(L, pos <= len && size <= len - pos, 2, "data string too short");
    luaL_checkstack(L, 2, "too many results");
    switch (opt) {
      case 'b':
      case 'B':
      case 'h':
      case 'H':
      case 'l':
      case 'L':
      case 'T':
      case 'i':
      case 'I': {
        uint64_t v = GetInteger(data + pos, h.little, size);
        const bool is_signed = opt == 'b' || opt == 'h' || opt == 'l' || opt == 'i';
        if (is_signed && size < 8 && (v >> (8 * size - 1)) & 1) v |= ~uint64_t{0} << (8 * size);
        lua_pushnumber(L, is_signed ? static_cast<lua_Number>(static_cast<int64_t>(v))
                                    : static_cast<lua_Number>(v));
        ++results;
        break;
      }
      case 'x':
        break;
      case 'f': {
        const uint32_t bits = static_cast<uint32_t>(GetInteger(data + pos, h.little, 4));
        float f;
        std::memcpy(&f, &bits, 4);
        lua_pushnumber(L, f);
        ++results;
        break;
      }
      case 'd': {
        const uint64_t bits = GetInteger(data + pos, h.little, 8);
        double d;
        std::memcpy(&d, &bits, 8);
        lua_pushnumber(L, d);
        ++results;
        break;
      }
      case 'c': {
        if (size == 0) {
          if (results == 0 || !lua_isnumber(L, -1))
            luaL_error(L, "format 'c0' needs a previous size");
          size = static_cast<size_t>(lua_tonumber(L, -1));
          lua_pop(L, 1);
          --results;
          luaL_argcheck(L, size <= len - pos, 2, "data string too short");
        }
        lua_pushlstring(L, data + pos, size);
        ++results;
        break;
      }
      case 's': {
        const void* nul = std::memchr(data + pos, '\0', len - pos);
        if (nul == nullptr) luaL_error(L, "unfinished string in data");
        size = static_cast<size_t>(static_cast<const char*>(nul) - (data + pos)) + 1;
        lua_pushlstring(L, data + pos, size - 1);
        ++results;
        break;
      }
      default:
        break;
    }
    pos += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(pos + 1));
  return results + 1;
}

int StructSize(lua_State* L) {
  FormatState h;
  const char* fmt = luaL_checkstring(L, 1);
  size_t pos = 0;
  while (*fmt != '\0') {
    const char opt = *fmt++;
    const size_t size = OptionSize(L, opt, &fmt, &h);
    pos += Gap(opt, size, pos, h);
    if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
    if (opt == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
    pos += size;
  }
  lua_pushinteger(L, static_cast<lua_Integer>(pos));
  return 1;
}

// ---------------------------------------------------------------- cmsgpack

constexpr int kMaxNesting = 16;

void PutByte(luaL_Buffer* b, unsigned char c) { luaL_addchar(b, static_cast<char>(c)); }
void PutBig(luaL_Buffer* b, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) PutByte(b, static_cast<unsigned char>(v >> (8 * i)));
}

void PackInteger(luaL_Buffer* b, int64_t v) {
  if (v >= 0) {
    const uint64_t u = static_cast<uint64_t>(v);
    if (u <= 127)
      PutByte(b, static_cast<unsigned char>(u));
    else if (u <= 0xff) {
      PutByte(b, 0xcc);
      PutBig(b, u, 1);
    } else if (u <= 0xffff) {
      PutByte(b, 0xcd);
      PutBig(b, u, 2);
    } else if (u <= 0xffffffffull) {
      PutByte(b, 0xce);
      PutBig(b, u, 4);
    } else {
      PutByte(b, 0xcf);
      PutBig(b, u, 8);
    }
  } else {
    const uint64_t u = static_cast<uint64_t>(v);
    if (v >= -32)
      PutByte(b, static_cast<unsigned char>(u));
    else if (v >= -128) {
      PutByte(b, 0xd0);
      PutBig(b, u, 1);
    } else if (v >= -32768) {
      PutByte(b, 0xd1);
      PutBig(b, u, 2);
    } else if (v >= -2147483648LL) {
      PutByte(b, 0xd2);
      PutBig(b, u, 4);
    } else {
      PutByte(b, 0xd3);
      PutBig(b, u, 8);
    }
  }
}

void PackNumber(luaL_Buffer* b, double n) {
  if (!std::isinf(n) && !std::isnan(n) && n >= -9.2233720368547758e18 &&
      n < 9.2233720368547758e18 && static_cast<double>(static_cast<int64_t>(n)) == n) {
    PackInteger(b, static_cast<int64_t>(n));
    return;
  }
  const float f = static_cast<float>(n);
  if (static_cast<double>(f) == n) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    PutByte(b, 0xca);
    PutBig(b, bits, 4);
  } else {
    uint64_t bits;
    std::memcpy(&bits, &n, 8);
    PutByte(b, 0xcb);
    PutBig(b, bits, 8);
  }
}

void PackString(luaL_Buffer* b, const char* s, size_t len) {
  if (len < 32)
    PutByte(b, static_cast<unsigned char>(0xa0 | len));
  else if (len <= 0xff) {
    PutByte(b, 0xd9);
    PutBig(b, len, 1);
  } else if (len <= 0xffff) {
    PutByte(b, 0xda);
    PutBig(b, len, 2);
  } else {
    PutByte(b, 0xdb);
    PutBig(b, len, 4);
  }
  luaL_addlstring(b, s, len);
}

// The table at the top is an array when its keys are exactly 1..n.
bool IsArray(lua_State* L, size_t* n) {
  size_t count = 0;
  double max = 0;
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TNUMBER) {
      lua_pop(L, 1);
      return false;
    }
    const double k = lua_tonumber(L, -1);
    if (k <= 0 || std::floor(k) != k) {
      lua_pop(L, 1);
      return false;
    }
    if (k > max) max = k;
    ++count;
  }
  *n = count;
  return max == static_cast<double>(count);
}

// Values are packed into a Lua string buffer, whose pushes share the Lua
// stack; so nested values are packed into a string of their own first.
void PackValue(lua_State* L, std::string* out, int level);

void AppendBig(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

// Packs the value at the top of the stack (left in place) into *out.
void PackValue(lua_State* L, std::string* out, int level) {
  luaL_checkstack(L, 4, "cmsgpack: stack overflow");
  // Encode through a small buffer on the Lua side, then move to `out`.
  auto with_buffer = [&](auto&& fn) {
    const int top = lua_gettop(L);
    lua_pushvalue(L, top);  // keep the value at the top for fn
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    fn(&b, top);
    luaL_pushresult(&b);
    size_t len;
    const char* s = lua_tolstring(L, -1, &len);
    out->append(s, len);
    lua_settop(L, top);
  };
  switch (lua_type(L, -1)) {
    case LUA_TSTRING:
      with_buffer([&](luaL_Buffer* b, int top) {
        size_t len;
        const char* s = lua_tolstring(L, top, &len);
        PackString(b, s, len);
      });
      return;
    case LUA_TBOOLEAN:
      out->push_back(static_cast<char>(lua_toboolean(L, -1) ? 0xc3 : 0xc2));
      return;
    case LUA_TNUMBER:
      with_buffer([&](luaL_Buffer* b, int top) { PackNumber(b, lua_tonumber(L, top)); });
      return;
    case LUA_TTABLE: {
      if (level >= kMaxNesting) {
        out->push_back(static_cast<char>(0xc0));
        return;
      }
      size_t n;
      if (IsArray(L, &n)) {
        if (n < 16)
          out->push_back(static_cast<char>(0x90 | n));
        else if (n <= 0xffff) {
          out->push_back(static_cast<char>(0xdc));
          AppendBig(out, n, 2);
        } else {
          out->push_back(static_cast<char>(0xdd));
          AppendBig(out, n, 4);
        }
        for (size_t i = 1; i <= n; ++i) {
          lua_rawgeti(L, -1, static_cast<int>(i));
          PackValue(L, out, level + 1);
          lua_pop(L, 1);
        }
        return;
      }
      size_t pairs = 0;
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        lua_pop(L, 1);
        ++pairs;
      }
      if (pairs < 16)
        out->push_back(static_cast<char>(0x80 | pairs));
      else if (pairs <= 0xffff) {
        out->push_back(static_cast<char>(0xde));
        AppendBig(out, pairs, 2);
      } else {
        out->push_back(static_cast<char>(0xdf));
        AppendBig(out, pairs, 4);
      }
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        lua_pushvalue(L, -2);
        PackValue(L, out, level + 1);  // key
        lua_pop(L, 1);
        PackValue(L, out, level + 1);  // value
        lua_pop(L, 1);
      }
      return;
    }
    default:
      out->push_back(static_cast<char>(0xc0));
      return;
  }
}

int MsgpackPack(lua_State* L) {
  const int argc = lua_gettop(L);
  if (argc == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
  std::string out;
  for (int i = 1; i <= argc; ++i) {
    lua_pushvalue(L, i);
    PackValue(L, &out, 0);
    lua_pop(L, 1);
  }
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

enum class DecodeError { kNone, kEof, kBadFormat };

struct Cursor {
  const unsigned char* p;
  size_t left;
  DecodeError err = DecodeError::kNone;
  bool Need(size_t n) {
    if (left < n) {
      err = DecodeError::kEof;
      return false;
    }
    return true;
  }
  uint64_t Big(size_t at, int bytes) const {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[at + i];
    return v;
  }
  void Skip(size_t n) {
    p += n;
    left -= n;
  }
};

// Pushes one decoded value (nil on error, with c->err set).
void Decode(lua_State* L, Cursor* c, int depth);

void DecodeString(lua_State* L, Cursor* c, size_t header, size_t len) {
  if (!c->Need(header + len)) return;
  lua_pushlstring(L, reinterpret_cast<const char*>(c->p + header), len);
  c->Skip(header + len);
}

void DecodeArray(lua_State* L, Cursor* c, size_t header, size_t n, int depth) {
  if (!c->Need(header)) return;
  c->Skip(header);
  lua_newtable(L);
  for (size_t i = 1; i <= n && c->err == DecodeError::kNone; ++i) {
    Decode(L, c, depth + 1);
    if (c->err != DecodeError::kNone) return;
    lua_rawseti(L, -2, static_cast<int>(i));
  }
}

void DecodeMap(lua_State* L, Cursor* c, size_t header, size_t n, int depth) {
  if (!c->Need(header)) return;
  c->Skip(header);
  lua_newtable(L);
  for (size_t i = 0; i < n; ++i) {
    Decode(L, c, depth + 1);
    if (c->err != DecodeError::kNone) return;
    Decode(L, c, depth + 1);
    if (c->err != DecodeError::kNone) return;
    if (lua_isnil(L, -2)) {
      lua_pop(L, 2);
    } else {
      lua_rawset(L, -3);
    }
  }
}

void Decode(lua_State* L, Cursor* c, int depth) {
  luaL_checkstack(L, 4, "cmsgpack: too deeply nested");
  if (depth > 1000) {
    c->err = DecodeError::kBadFormat;
    return;
  }
  if (!c->Need(1)) return;
  const unsigned char t = c->p[0];
  auto number = [&](int bytes, bool is_signed) {
    if (!c->Need(1 + static_cast<size_t>(bytes))) return;
    uint64_t v = c->Big(1, bytes);
    if (is_signed && bytes < 8 && (v >> (8 * bytes - 1)) & 1) v |= ~uint64_t{0} << (8 * bytes);
    lua_pushnumber(L, is_signed ? static_cast<lua_Number>(static_cast<int64_t>(v))
                                : static_cast<lua_Number>(v));
    c->Skip(1 + static_cast<size_t>(bytes));
  };
  if (t <= 0x7f) {
    lua_pushnumber(L, t);
    c->Skip(1);
  } else if (t >= 0xe0) {
    lua_pushnumber(L, static_cast<int8_t>(t));
    c->Skip(1);
  } else if ((t & 0xe0) == 0xa0) {
    DecodeString(L, c, 1, t & 0x1f);
  } else if ((t & 0xf0) == 0x90) {
    DecodeArray(L, c, 1, t & 0x0f, depth);
  } else if ((t & 0xf0) == 0x80) {
    DecodeMap(L, c, 1, t & 0x0f, depth);
  } else {
    switch (t) {
      case 0xc0:
        lua_pushnil(L);
        c->Skip(1);
        break;
      case 0xc2:
        lua_pushboolean(L, 0);
        c->Skip(1);
        break;
      case 0xc3:
        lua_pushboolean(L, 1);
        c->Skip(1);
        break;
      case 0xcc:
        number(1, false);
        break;
      case 0xcd:
        number(2, false);
        break;
      case 0xce:
        number(4, false);
        break;
      case 0xcf:
        number(8, false);
        break;
      case 0xd0:
        number(1, true);
        break;
      case 0xd1:
        number(2, true);
        break;
      case 0xd2:
        number(4, true);
        break;
      case 0xd3:
        number(8, true);
        break;
      case 0xca: {
        if (!c->Need(5)) return;
        const uint32_t bits = static_cast<uint32_t>(c->Big(1, 4));
        float f;
        std::memcpy(&f, &bits, 4);
        lua_pushnumber(L, f);
        c->Skip(5);
        break;
      }
      case 0xcb: {
        if (!c->Need(9)) return;
        const uint64_t bits = c->Big(1, 8);
        double d;
        std::memcpy(&d, &bits, 8);
        lua_pushnumber(L, d);
        c->Skip(9);
        break;
      }
      // No bin 8/16/32 (0xc4-0xc6): Redis's cmsgpack reads them as bad data.
      case 0xd9:
        if (c->Need(2)) DecodeString(L, c, 2, c->Big(1, 1));
        break;
      case 0xda:
        if (c->Need(3)) DecodeString(L, c, 3, c->Big(1, 2));
        break;
      case 0xdb:
        if (c->Need(5)) DecodeString(L, c, 5, c->Big(1, 4));
        break;
      case 0xdc:
        if (c->Need(3)) DecodeArray(L, c, 3, c->Big(1, 2), depth);
        break;
      case 0xdd:
        if (c->Need(5)) DecodeArray(L, c, 5, c->Big(1, 4), depth);
        break;
      case 0xde:
        if (c->Need(3)) DecodeMap(L, c, 3, c->Big(1, 2), depth);
        break;
      case 0xdf:
        if (c->Need(5)) DecodeMap(L, c, 5, c->Big(1, 4), depth);
        break;
      default:
        c->err = DecodeError::kBadFormat;
        break;
    }
  }
}

// Decodes up to `limit` values from `offset` (all of them when `all`).
// With !all the next offset comes first (-1 once the input is used up).
int UnpackFull(lua_State* L, int limit, int offset, bool all) {
  size_t len;
  const char* s = luaL_checklstring(L, 1, &len);
  if (offset < 0 || limit < 0) {
    // Redis's text calls the input's length "limit": kept word for word.
    return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", offset,
                      static_cast<int>(len));
  }
  if (static_cast<size_t>(offset) > len) {
    return luaL_error(L, "Start offset %d greater than input length %d.", offset,
                      static_cast<int>(len));
  }
  // As Redis's: no limit and no offset decodes everything, with no offset
  // returned (unpack_limit(s, 0) is unpack(s)).
  if (limit == 0 && offset == 0) all = true;
  if (all) limit = INT_MAX;
  lua_settop(L, 1);
  Cursor c{reinterpret_cast<const unsigned char*>(s) + offset, len - static_cast<size_t>(offset)};
  int count = 0;
  for (; c.left > 0 && count < limit; ++count) {
    Decode(L, &c, 0);
    if (c.err == DecodeError::kEof) return luaL_error(L, "Missing bytes in input.");
    if (c.err == DecodeError::kBadFormat) return luaL_error(L, "Bad data format in input.");
  }
  if (!all) {
    const size_t next = len - c.left;
    lua_pushinteger(L, c.left == 0 ? -1 : static_cast<lua_Integer>(next));
    lua_insert(L, 2);
    ++count;
  }
  return count;
}

int MsgpackUnpack(lua_State* L) { return UnpackFull(L, 0, 0, true); }
int MsgpackUnpackOne(lua_State* L) {
  const int offset = static_cast<int>(luaL_optinteger(L, 2, 0));
  return UnpackFull(L, 1, offset, false);
}
int MsgpackUnpackLimit(lua_State* L) {
  const int limit = static_cast<int>(luaL_checkinteger(L, 2));
  const int offset = static_cast<int>(luaL_optinteger(L, 3, 0));
  return UnpackFull(L, limit, offset, false);
}

}  // namespace

int OpenStruct(lua_State* L) {
  lua_newtable(L);
  lua_pushcfunction(L, StructPack);
  lua_setfield(L, -2, "pack");
  lua_pushcfunction(L, StructUnpack);
  lua_setfield(L, -2, "unpack");
  lua_pushcfunction(L, StructSize);
  lua_setfield(L, -2, "size");
  return 1;
}

int OpenCmsgpack(lua_State* L) {
  lua_newtable(L);
  lua_pushcfunction(L, MsgpackPack);
  lua_setfield(L, -2, "pack");
  lua_pushcfunction(L, MsgpackUnpack);
  lua_setfield(L, -2, "unpack");
  lua_pushcfunction(L, MsgpackUnpackOne);
  lua_setfield(L, -2, "unpack_one");
  lua_pushcfunction(L, MsgpackUnpackLimit);
  lua_setfield(L, -2, "unpack_limit");
  lua_pushstring(L, "lua-cmsgpack");
  lua_setfield(L, -2, "_NAME");
  lua_pushstring(L, "lua-cmsgpack 0.4.0");
  lua_setfield(L, -2, "_VERSION");
  return 1;
}

}  // namespace causalkv::script
