#include "causalkv/config/config.h"

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "split_args.h"

namespace causalkv::config {
namespace {

using Values = std::vector<std::string>;

// Redis's wording, so that operators (and tests written against Redis) see
// familiar text.
constexpr std::string_view kBadDirective = "Bad directive or wrong number of arguments";
constexpr std::string_view kWrongArgCount = "wrong number of arguments";
constexpr std::string_view kNotAnInteger = "argument couldn't be parsed into an integer";
constexpr std::string_view kNotMemory = "argument must be a memory value";
constexpr std::string_view kUnbalancedQuotes = "Unbalanced quotes in configuration line";
constexpr std::string_view kFatalHeader = "*** FATAL CONFIG FILE ERROR ***\n";

constexpr size_t kMaxBindAddresses = 16;  // Redis's CONFIG_BINDADDR_MAX
constexpr int kMinHz = 1;                 // CONFIG_MIN_HZ
constexpr int kMaxHz = 500;               // CONFIG_MAX_HZ
// Redis allows up to INT_MAX databases; a store that allocates them up front
// would die on that, so causalkv stops at a million.
constexpr int64_t kMaxDatabases = 1'000'000;

struct LogLevelEntry {
  std::string_view name;
  LogLevel level;
};

constexpr LogLevelEntry kLogLevels[] = {
    {"debug", LogLevel::kDebug},     {"verbose", LogLevel::kVerbose}, {"notice", LogLevel::kNotice},
    {"warning", LogLevel::kWarning}, {"nothing", LogLevel::kNothing},
};

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Message building without `"literal" + std::string` temporaries, which trip
// GCC 12's -Wrestrict false positive at -O3.
std::string StrCat(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (const std::string_view part : parts) size += part.size();
  std::string result;
  result.reserve(size);
  for (const std::string_view part : parts) result += part;
  return result;
}

// Redis's string2ll(): optional '-', no '+', no leading zeros, no blanks,
// nothing after the digits, and no overflow.
bool ParseInt64(std::string_view text, int64_t* out) {
  if (text == "0") {
    *out = 0;
    return true;
  }
  const bool negative = !text.empty() && text[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i >= text.size() || text[i] < '1' || text[i] > '9') return false;
  uint64_t magnitude = 0;
  for (; i < text.size(); ++i) {
    if (!IsDigit(text[i])) return false;
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (magnitude > kMax + 1) return false;
    *out = magnitude == kMax + 1 ? std::numeric_limits<int64_t>::min()
                                 : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMax) return false;
    *out = static_cast<int64_t>(magnitude);
  }
  return true;
}

std::string RangeError(int64_t min, int64_t max) {
  return StrCat({"argument must be between ", std::to_string(min), " and ", std::to_string(max),
                 " inclusive"});
}

// Every single-valued option starts with this: Redis refuses a line such as
// `port 1 2` with the same words whatever the option.
bool ExpectOneValue(const Values& values, std::string* reason) {
  if (values.size() == 1) return true;
  *reason = std::string(kWrongArgCount);
  return false;
}

bool ParseIntValue(const Values& values, int64_t min, int64_t max, int64_t* out,
                   std::string* reason) {
  if (!ExpectOneValue(values, reason)) return false;
  int64_t value = 0;
  if (!ParseInt64(values[0], &value)) {
    *reason = std::string(kNotAnInteger);
    return false;
  }
  if (value < min || value > max) {
    *reason = RangeError(min, max);
    return false;
  }
  *out = value;
  return true;
}

bool ParseMemoryValue(const Values& values, uint64_t min, uint64_t max, uint64_t* out,
                      std::string* reason) {
  if (!ExpectOneValue(values, reason)) return false;
  uint64_t value = 0;
  if (!ParseMemory(values[0], &value)) {
    *reason = std::string(kNotMemory);
    return false;
  }
  if (value < min || value > max) {
    *reason = RangeError(static_cast<int64_t>(min), static_cast<int64_t>(max));
    return false;
  }
  *out = value;
  return true;
}

// Setters validate everything before touching the Config, which is what lets
// SetOption() promise that nothing changes on error.
using Setter = bool (*)(const Values& values, Config* cfg, std::string* reason);
using Getter = std::string (*)(const Config& cfg);

struct Option {
  std::string_view name;
  bool runtime;  // CONFIG SET may change it while the server runs
  Setter set;
  Getter get;
};

// The single table of options: adding one means adding one entry here (and a
// field in Config, and a paragraph in conf/causalkv.conf).
const Option kOptions[] = {
    {"port", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t port = 0;
       if (!ParseIntValue(v, 0, 65535, &port, reason)) return false;
       cfg->port = static_cast<int>(port);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.port); }},

    {"bind", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (v.size() > kMaxBindAddresses) {
         *reason = "Too many bind addresses specified.";
         return false;
       }
       // Redis reads zero addresses as "every interface"; causalkv asks for
       // that to be spelled out ("* -::*") rather than implied by a typo.
       if (v.empty()) {
         *reason = std::string(kWrongArgCount);
         return false;
       }
       for (const std::string& address : v) {
         if (address.empty()) {
           *reason = "bind address can't be empty";
           return false;
         }
       }
       cfg->bind = v;
       return true;
     },
     [](const Config& cfg) {
       std::string joined;
       for (const std::string& address : cfg.bind) {
         if (!joined.empty()) joined += ' ';
         joined += address;
       }
       return joined;
     }},

    {"tcp-backlog", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t backlog = 0;
       if (!ParseIntValue(v, 0, INT_MAX, &backlog, reason)) return false;
       cfg->tcp_backlog = static_cast<int>(backlog);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.tcp_backlog); }},

    {"databases", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t databases = 0;
       if (!ParseIntValue(v, 1, kMaxDatabases, &databases, reason)) return false;
       cfg->databases = static_cast<int>(databases);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.databases); }},

    {"loglevel", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       for (const LogLevelEntry& entry : kLogLevels) {
         if (EqualsNoCase(v[0], entry.name)) {
           cfg->loglevel = entry.level;
           return true;
         }
       }
       *reason = "argument(s) must be one of the following: ";
       for (const LogLevelEntry& entry : kLogLevels) {
         if (&entry != &kLogLevels[0]) *reason += ", ";
         *reason += entry.name;
       }
       return false;
     },
     [](const Config& cfg) { return std::string(LogLevelName(cfg.loglevel)); }},

    {"logfile", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       cfg->logfile = v[0];
       return true;
     },
     [](const Config& cfg) { return cfg.logfile; }},

    {"dir", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       // Redis would fail chdir("") here; an empty path is never useful.
       if (v[0].empty()) {
         *reason = "dir can't be empty";
         return false;
       }
       cfg->dir = v[0];
       return true;
     },
     [](const Config& cfg) { return cfg.dir; }},

    {"proto-max-bulk-len", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       // Bounds as in Redis: at least 1mb, at most LONG_MAX.
       return ParseMemoryValue(v, 1024 * 1024, std::numeric_limits<int64_t>::max(),
                               &cfg->proto_max_bulk_len, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.proto_max_bulk_len); }},

    {"hz", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       // Redis treats hz as a hint: anything from 0 to INT_MAX is accepted and
       // then clamped, so old config files with odd values keep working.
       int64_t hz = 0;
       if (!ParseIntValue(v, 0, INT_MAX, &hz, reason)) return false;
       if (hz < kMinHz) hz = kMinHz;
       if (hz > kMaxHz) hz = kMaxHz;
       cfg->hz = static_cast<int>(hz);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.hz); }},

    {"requirepass", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       cfg->requirepass = v[0];
       return true;
     },
     [](const Config& cfg) { return cfg.requirepass; }},

    {"version-reserve", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t reserve = 0;
       if (!ParseIntValue(v, 1000, 1'000'000'000'000, &reserve, reason)) return false;
       cfg->version_reserve = static_cast<uint64_t>(reserve);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.version_reserve); }},

    // Memory limit, eviction and the sibling guard.
    {"maxmemory", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseMemoryValue(v, 0, std::numeric_limits<int64_t>::max(), &cfg->maxmemory,
                               reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.maxmemory); }},

    {"maxmemory-policy", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       static constexpr const char* kPolicies[] = {
           "volatile-lru",   "volatile-lfu",   "volatile-random", "volatile-ttl",
           "allkeys-lru",    "allkeys-lfu",    "allkeys-random",  "noeviction"};
       for (const char* policy : kPolicies) {
         if (EqualsNoCase(v[0], policy)) {
           cfg->maxmemory_policy = policy;
           return true;
         }
       }
       *reason = "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
                 "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
                 "noeviction";
       return false;
     },
     [](const Config& cfg) { return cfg.maxmemory_policy; }},

    {"maxmemory-samples", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 1, 64, &n, reason)) return false;
       cfg->maxmemory_samples = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.maxmemory_samples); }},

    {"lfu-log-factor", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 0, INT_MAX, &n, reason)) return false;
       cfg->lfu_log_factor = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.lfu_log_factor); }},

    {"lfu-decay-time", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 0, INT_MAX, &n, reason)) return false;
       cfg->lfu_decay_time = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.lfu_decay_time); }},

    {"max-siblings", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 1, 1'000'000, &n, reason)) return false;
       cfg->max_siblings = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.max_siblings); }},
};

const Option* FindOption(std::string_view name) {
  for (const Option& option : kOptions) {
    if (EqualsNoCase(name, option.name)) return &option;
  }
  return nullptr;
}

// Applies one directive (name plus values) without any message decoration;
// *reason is Redis's bare explanation.
bool ApplyDirective(Config* cfg, std::string_view name, const Values& values, std::string* reason) {
  const Option* option = FindOption(name);
  if (option == nullptr) {
    *reason = std::string(kBadDirective);
    return false;
  }
  return option->set(values, cfg, reason);
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\r\n";
  const size_t first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  const size_t last = text.find_last_not_of(kBlanks);
  return text.substr(first, last - first + 1);
}

std::string FileError(std::string_view source, size_t line_number, std::string_view line,
                      std::string_view reason) {
  std::string error(kFatalHeader);
  error += "Reading the configuration file";
  if (!source.empty()) {
    error += " '";
    error += source;
    error += '\'';
  }
  error += StrCat({", at line ", std::to_string(line_number), "\n>>> '"});
  error += line;
  error += "'\n";
  error += reason;
  return error;
}

std::string CommandLineError(std::string_view what, std::string_view shown,
                             std::string_view reason) {
  std::string error(kFatalHeader);
  error += "Reading the command line, at ";
  error += what;
  error += "\n>>> '";
  error += shown;
  error += "'\n";
  error += reason;
  return error;
}

bool StartsWithDashDash(std::string_view arg) {
  return arg.size() >= 2 && arg.substr(0, 2) == "--";
}

bool ReadWholeFile(const std::string& path, std::string* text, std::string* os_error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    *os_error = std::generic_category().message(errno);
    return false;
  }
  text->clear();
  char buffer[8192];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text->append(buffer, got);
  // A directory opens fine on Linux and only fails here, with EISDIR.
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) {
    *os_error = std::generic_category().message(read_errno);
    return false;
  }
  return true;
}

std::string AbsolutePath(const std::string& path) {
  char* resolved = ::realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return path;  // the file was just read, so this is unlikely
  std::string result(resolved);
  std::free(resolved);
  return result;
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  for (const LogLevelEntry& entry : kLogLevels) {
    if (entry.level == level) return entry.name;
  }
  return "unknown";
}

bool ParseMemory(std::string_view text, uint64_t* bytes) {
  size_t digits = 0;
  while (digits < text.size() && IsDigit(text[digits])) ++digits;
  if (digits == 0) return false;  // also rejects '-', '+' and blanks up front

  const std::string_view unit = text.substr(digits);
  uint64_t multiplier = 0;
  if (unit.empty() || EqualsNoCase(unit, "b")) {
    multiplier = 1;
  } else if (EqualsNoCase(unit, "k")) {
    multiplier = 1000;
  } else if (EqualsNoCase(unit, "kb")) {
    multiplier = 1024;
  } else if (EqualsNoCase(unit, "m")) {
    multiplier = 1000 * 1000;
  } else if (EqualsNoCase(unit, "mb")) {
    multiplier = 1024 * 1024;
  } else if (EqualsNoCase(unit, "g")) {
    multiplier = 1000 * 1000 * 1000;
  } else if (EqualsNoCase(unit, "gb")) {
    multiplier = 1024 * 1024 * 1024;
  } else {
    return false;
  }

  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
  }
  if (value > std::numeric_limits<uint64_t>::max() / multiplier) return false;
  *bytes = value * multiplier;
  return true;
}

const std::vector<std::string>& OptionNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const Option& option : kOptions) all.emplace_back(option.name);
    return all;
  }();
  return names;
}

bool GetOption(const Config& cfg, std::string_view name, std::string* value) {
  const Option* option = FindOption(name);
  if (option == nullptr) return false;
  *value = option->get(cfg);
  return true;
}

bool SetOption(Config* cfg, std::string_view name, const std::vector<std::string>& values,
               bool runtime, std::string* error) {
  const Option* option = FindOption(name);
  if (option == nullptr) {
    *error = runtime
                 ? StrCat({"Unknown option or number of arguments for CONFIG SET - '", name, "'"})
                 : StrCat({"option '", name, "': ", kBadDirective});
    return false;
  }
  // As in Redis, the immutable refusal names the option as the client typed
  // it, while value errors use the canonical name.
  if (runtime && !option->runtime) {
    *error = StrCat({"CONFIG SET failed (possibly related to argument '", name,
                     "') - can't set immutable config"});
    return false;
  }
  std::string reason;
  if (!option->set(values, cfg, &reason)) {
    *error = runtime ? StrCat({"CONFIG SET failed (possibly related to argument '", option->name,
                               "') - ", reason})
                     : StrCat({"option '", option->name, "': ", reason});
    return false;
  }
  return true;
}

bool LoadFromText(std::string_view text, std::string_view source, Config* out, std::string* error) {
  // Staged so that a bad line late in the file leaves *out untouched.
  Config staged = *out;
  size_t line_number = 0;
  size_t start = 0;
  std::vector<std::string> args;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    ++line_number;
    const std::string_view line = Trim(text.substr(start, end - start));
    start = end + 1;

    if (line.empty() || line[0] == '#') continue;
    if (!internal::SplitArgs(line, &args)) {
      *error = FileError(source, line_number, line, kUnbalancedQuotes);
      return false;
    }
    if (args.empty()) continue;  // only blanks Trim() does not strip, e.g. \v
    const Values values(args.begin() + 1, args.end());
    std::string reason;
    if (!ApplyDirective(&staged, args[0], values, &reason)) {
      *error = FileError(source, line_number, line, reason);
      return false;
    }
  }
  *out = std::move(staged);
  return true;
}

LoadResult LoadFromArgs(int argc, const char* const* argv, Config* out, std::string* error) {
  if (argc >= 2) {
    const std::string_view first = argv[1];
    if (first == "--version" || first == "-v") return LoadResult::kVersion;
    if (first == "--help" || first == "-h") return LoadResult::kHelp;
  }

  Config staged = *out;
  int i = 1;
  if (argc >= 2 && !StartsWithDashDash(argv[1])) {
    const std::string path = argv[1];
    std::string text;
    std::string os_error;
    if (!ReadWholeFile(path, &text, &os_error)) {
      *error = StrCat({"Fatal error, can't open config file '", path, "': ", os_error});
      return LoadResult::kError;
    }
    const std::string absolute = AbsolutePath(path);
    if (!LoadFromText(text, absolute, &staged, error)) return LoadResult::kError;
    staged.config_file = absolute;
    i = 2;
  }

  // Options as redis-server reads them: `--name` followed by its values. The
  // argument right after a bare `--name` is always a value, even if it starts
  // with "--" (a password may); later ones continue the list until the next
  // "--" argument. `"--name value"` in one argument is split like a config line.
  while (i < argc) {
    const std::string_view arg = argv[i];
    if (!StartsWithDashDash(arg)) {
      *error = CommandLineError(StrCat({"argument ", std::to_string(i)}), internal::QuoteArg(arg),
                                "expected an option starting with '--'");
      return LoadResult::kError;
    }
    ++i;
    std::vector<std::string> words;
    if (!internal::SplitArgs(arg.substr(2), &words)) {
      *error = CommandLineError(StrCat({"'", arg, "'"}), arg, kUnbalancedQuotes);
      return LoadResult::kError;
    }
    if (words.empty()) words.emplace_back();  // a bare "--": an unknown, empty name
    const std::string name = words[0];
    Values values(words.begin() + 1, words.end());
    if (values.empty() && i < argc) values.emplace_back(argv[i++]);
    while (i < argc && !StartsWithDashDash(argv[i])) values.emplace_back(argv[i++]);

    std::string reason;
    if (!ApplyDirective(&staged, name, values, &reason)) {
      std::string shown = internal::QuoteArg(name);
      for (const std::string& value : values) {
        shown += ' ';
        shown += internal::QuoteArg(value);
      }
      *error = CommandLineError(StrCat({"option '--", name, "'"}), shown, reason);
      return LoadResult::kError;
    }
  }

  *out = std::move(staged);
  return LoadResult::kRun;
}

}  // namespace causalkv::config
