#include "split_args.h"

#include "causalkv/util/split_args.h"

#include <cstddef>

namespace causalkv::config::internal {

bool SplitArgs(std::string_view line, std::vector<std::string>* args) {
  std::string storage;
  std::vector<std::pair<size_t, size_t>> spans;
  args->clear();
  if (!util::SplitArgs(line, &storage, &spans)) return false;
  for (const auto& [offset, length] : spans) args->emplace_back(storage, offset, length);
  return true;
}

std::string QuoteArg(std::string_view arg) {
  bool plain = !arg.empty();
  for (const char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 0x7f || c == '"' || c == '\'' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) return std::string(arg);

  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default:
        if (u < ' ' || u >= 0x7f) {
          out += "\\x";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace causalkv::config::internal
