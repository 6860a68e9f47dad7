// Fuzz target: config::LoadFromText, the config file parser (redis.conf
// syntax), and what CONFIG REWRITE / GET / SET build on it.
//
// Checks, beyond not crashing:
//   - a refused file leaves the Config untouched and says why;
//   - a loaded file, rewritten by RewriteConfigText (in place, and from an
//     empty file), loads again to the same value of every option, and
//     rewriting that rewrite changes nothing;
//   - for every option, SetOption with the value GetOption shows succeeds
//     and shows the same value again (CONFIG SET x `CONFIG GET x` is a
//     no-op, as Redis's own test suite checks).
// Input: the file's text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "causalkv/config/config.h"
#include "fuzz_support.h"

namespace {

using causalkv::config::Config;
using causalkv::fuzz::Escape;

// Every option as CONFIG GET shows it.
std::vector<std::pair<std::string, std::string>> Values(const Config& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& name : causalkv::config::OptionNames()) {
    std::string value;
    FUZZ_REQUIRE(causalkv::config::GetOption(cfg, name, &value), "GetOption refuses " + name);
    out.emplace_back(name, std::move(value));
  }
  return out;
}

std::string Diff(const std::vector<std::pair<std::string, std::string>>& a,
                 const std::vector<std::pair<std::string, std::string>>& b) {
  std::string out;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i] != b[i]) {
      out += a[i].first + ": \"" + Escape(a[i].second) + "\" vs \"" + Escape(b[i].second) + "\"\n";
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace config = causalkv::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const auto kDefaults = Values(Config());

  Config cfg;
  std::string error;
  if (!config::LoadFromText(text, "fuzz.conf", &cfg, &error)) {
    FUZZ_REQUIRE(!error.empty(), "refused without a message");
    const auto after = Values(cfg);
    FUZZ_REQUIRE(after == kDefaults, "a refused file changed:\n" + Diff(kDefaults, after));
    return 0;
  }
  const auto loaded = Values(cfg);

  const std::string rewritten = config::RewriteConfigText(cfg, text);
  Config again;
  FUZZ_REQUIRE(config::LoadFromText(rewritten, "rewritten.conf", &again, &error),
               "the rewrite of \"" + Escape(text) + "\" is refused: \"" + Escape(rewritten) +
                   "\": " + error);
  const auto reloaded = Values(again);
  FUZZ_REQUIRE(reloaded == loaded,
               "the rewrite \"" + Escape(rewritten) + "\" loads as:\n" + Diff(loaded, reloaded));
  const std::string twice = config::RewriteConfigText(again, rewritten);
  FUZZ_REQUIRE(twice == rewritten,
               "rewriting \"" + Escape(rewritten) + "\" again gives \"" + Escape(twice) + "\"");

  const std::string fresh = config::RewriteConfigText(cfg, "");
  Config from_fresh;
  FUZZ_REQUIRE(config::LoadFromText(fresh, "fresh.conf", &from_fresh, &error),
               "the fresh rewrite \"" + Escape(fresh) + "\" is refused: " + error);
  const auto fresh_values = Values(from_fresh);
  FUZZ_REQUIRE(fresh_values == loaded, "the fresh rewrite \"" + Escape(fresh) + "\" loads as:\n" +
                                           Diff(loaded, fresh_values));

  for (const auto& [name, value] : loaded) {
    Config set = cfg;
    FUZZ_REQUIRE(config::SetOption(&set, name, {value}, false, &error),
                 "SetOption(" + name + ", \"" + Escape(value) + "\") refused: " + error);
    std::string shown;
    config::GetOption(set, name, &shown);
    FUZZ_REQUIRE(shown == value, "SetOption(" + name + ", \"" + Escape(value) + "\") shows \"" +
                                     Escape(shown) + "\"");
  }
  return 0;
}
