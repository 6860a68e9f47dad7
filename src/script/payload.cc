#include "payload.h"

#include <cstdint>

namespace causalkv::script {
namespace {

constexpr std::string_view kMagic = "CKVFUNC1";

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetLE(std::string_view s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<unsigned char>(s[pos + i])} << (8 * i);
  return v;
}
uint64_t Fnv(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

}  // namespace

std::string EncodeLibraries(const std::vector<std::string_view>& codes) {
  std::string out(kMagic);
  PutU32(&out, static_cast<uint32_t>(codes.size()));
  for (std::string_view code : codes) {
    PutU32(&out, static_cast<uint32_t>(code.size()));
    out.append(code);
  }
  PutU64(&out, Fnv(out));
  return out;
}

bool DecodeLibraries(std::string_view payload, std::vector<std::string>* codes) {
  codes->clear();
  if (payload.size() < kMagic.size() + 4 + 8 || !payload.starts_with(kMagic)) return false;
  const std::string_view body = payload.substr(0, payload.size() - 8);
  if (GetLE(payload, body.size(), 8) != Fnv(body)) return false;
  size_t pos = kMagic.size();
  const uint64_t count = GetLE(body, pos, 4);
  pos += 4;
  for (uint64_t i = 0; i < count; ++i) {
    if (body.size() - pos < 4) return false;
    const uint64_t len = GetLE(body, pos, 4);
    pos += 4;
    if (body.size() - pos < len) return false;
    codes->emplace_back(body.substr(pos, len));
    pos += len;
  }
  return pos == body.size();
}

}  // namespace causalkv::script
