#include "causalkv/config/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "split_args.h"

#ifndef CAUSALKV_VERSION
#define CAUSALKV_VERSION "0.0.0"
#endif

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
// Redis prints its name and version here; operators grep logs for this line.
constexpr std::string_view kFatalHeader =
    "*** FATAL CONFIG FILE ERROR (causalkv " CAUSALKV_VERSION ") ***\n";

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

// Redis's yes/no booleans (case-insensitive).
bool ParseYesNo(const Values& values, bool* out, std::string* reason) {
  if (!ExpectOneValue(values, reason)) return false;
  if (EqualsNoCase(values[0], "yes")) {
    *out = true;
  } else if (EqualsNoCase(values[0], "no")) {
    *out = false;
  } else {
    *reason = "argument must be 'yes' or 'no'";
    return false;
  }
  return true;
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

// Octal digits only, as Redis reads unixsocketperm ("700", "0770").
bool ParseOctal(std::string_view text, int* out) {
  if (text.empty() || text.size() > 11) return false;
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '7') return false;
    value = value * 8 + (c - '0');
  }
  if (value > INT_MAX) return false;
  *out = static_cast<int>(value);
  return true;
}

std::string FormatOctal(int value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%o", static_cast<unsigned>(value));
  return buffer;
}

struct SupervisedEntry {
  std::string_view name;
  Supervised mode;
};

constexpr SupervisedEntry kSupervisedModes[] = {
    {"upstart", Supervised::kUpstart},
    {"systemd", Supervised::kSystemd},
    {"auto", Supervised::kAuto},
    {"no", Supervised::kNo},
};

std::string_view SupervisedName(Supervised mode) {
  for (const SupervisedEntry& entry : kSupervisedModes) {
    if (entry.mode == mode) return entry.name;
  }
  return "no";
}

// Class names as Redis accepts them in client-output-buffer-limit ("slave"
// and "replica" are the same class); GET shows the first name of each.
struct ClientClassEntry {
  std::string_view name;
  ClientClass cls;
};

constexpr ClientClassEntry kClientClassNames[] = {
    {"normal", kClientNormal},
    {"slave", kClientReplica},
    {"replica", kClientReplica},
    {"pubsub", kClientPubsub},
};

// client-output-buffer-limit <class> <hard> <soft> <soft-seconds> [...]: a
// config line gives the words as separate values, CONFIG SET as one string.
bool SetOutputBufferLimits(const Values& v, Config* cfg, std::string* reason) {
  Values words = v;
  if (v.size() == 1 && !internal::SplitArgs(v[0], &words)) words.clear();
  if (words.empty() || words.size() % 4 != 0) {
    *reason = "Wrong number of arguments in buffer limit configuration.";
    return false;
  }
  auto limits = cfg->client_output_buffer_limit;
  for (size_t i = 0; i < words.size(); i += 4) {
    const ClientClassEntry* found = nullptr;
    for (const ClientClassEntry& entry : kClientClassNames) {
      if (EqualsNoCase(words[i], entry.name)) found = &entry;
    }
    if (found == nullptr) {
      *reason = "Invalid client class specified in buffer limit configuration.";
      return false;
    }
    OutputBufferLimit limit;
    if (!ParseMemory(words[i + 1], &limit.hard_bytes) ||
        !ParseMemory(words[i + 2], &limit.soft_bytes) ||
        !ParseInt64(words[i + 3], &limit.soft_seconds) || limit.soft_seconds < 0) {
      *reason = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
      return false;
    }
    limits[found->cls] = limit;
  }
  cfg->client_output_buffer_limit = limits;
  return true;
}

std::string GetOutputBufferLimits(const Config& cfg) {
  static constexpr std::string_view kShownNames[kClientClasses] = {"normal", "slave", "pubsub"};
  std::string out;
  for (int cls = 0; cls < kClientClasses; ++cls) {
    const OutputBufferLimit& limit = cfg.client_output_buffer_limit[cls];
    if (!out.empty()) out += ' ';
    out += StrCat({kShownNames[cls], " ", std::to_string(limit.hard_bytes), " ",
                   std::to_string(limit.soft_bytes), " ", std::to_string(limit.soft_seconds)});
  }
  return out;
}

// Cluster limits. The quorum cap is only a sanity bound for SetOption(), which
// cannot see a `peers` line that comes later in the file; ValidateCluster()
// holds the quorums to the real cluster size.
constexpr int64_t kMaxQuorum = 1000;
constexpr int64_t kMaxPeerTimeoutMs = 3'600'000;             // an hour
constexpr int64_t kMaxAntiEntropyIntervalMs = 86'400'000;    // a day
constexpr int64_t kMaxTombstoneGraceMs = 30ll * 86'400'000;  // 30 days

// RFC 1123's letters, digits, '-' and '.', plus '_', which container and
// service host names often have and resolvers accept.
bool IsHostnameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || c == '.' ||
         c == '_';
}

// One `peers` entry: "host:port" (an IPv4 literal or a hostname) or
// "[ipv6]:port", port 1..65535. On success *key is the form duplicates are
// detected on: the host lowercased (an IPv6 address in its canonical
// spelling, so [::1] and [0::1] are the same peer), then the port.
bool ParsePeerAddress(std::string_view entry, std::string* key, std::string* reason) {
  const auto fail = [&](std::string_view why) {
    *reason = StrCat({"peer '", entry, "' ", why});
    return false;
  };
  const size_t colon = entry.rfind(':');
  if (colon == std::string_view::npos) return fail("must be host:port");
  const std::string_view host = entry.substr(0, colon);
  int64_t port = 0;
  if (!ParseInt64(entry.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return fail("must end with a port from 1 to 65535");
  }
  std::string canonical;
  if (!host.empty() && host.front() == '[') {
    char text[INET6_ADDRSTRLEN] = {};
    in6_addr address;
    const std::string inner(host.substr(1, host.size() >= 2 ? host.size() - 2 : 0));
    if (host.size() < 3 || host.back() != ']' ||
        ::inet_pton(AF_INET6, inner.c_str(), &address) != 1 ||
        ::inet_ntop(AF_INET6, &address, text, sizeof text) == nullptr) {
      return fail("has a bad IPv6 address (write it as [address]:port)");
    }
    canonical = StrCat({"[", text, "]"});
  } else {
    if (host.empty()) return fail("has no host");
    if (host.find(':') != std::string_view::npos) {
      return fail("has an IPv6 address without brackets (write it as [address]:port)");
    }
    bool only_digits_and_dots = true;
    for (const char c : host) {
      if (!IsHostnameChar(c)) return fail("has a bad host name");
      if (c != '.' && !IsDigit(c)) only_digits_and_dots = false;
    }
    // A name made of digits and dots can only mean an IPv4 address (no
    // top-level domain is numeric), so "300.1.1.1" is a typo, not a host.
    in_addr address;
    if (only_digits_and_dots && ::inet_pton(AF_INET, std::string(host).c_str(), &address) != 1) {
      return fail("has a bad IPv4 address");
    }
    if (host.front() == '.' || host.front() == '-' || host.find("..") != std::string_view::npos) {
      return fail("has a bad host name");
    }
    canonical.reserve(host.size());
    for (const char c : host) canonical += AsciiLower(c);
  }
  *key = StrCat({canonical, ":", std::to_string(port)});
  return true;
}

// `peers host:port [host:port ...]`. A config line gives the addresses as
// separate values, CONFIG GET's output as one blank-separated string; both
// are accepted, and `peers ""` clears the list (a single node).
bool SetPeers(const Values& v, Config* cfg, std::string* reason) {
  if (v.empty()) {
    *reason = std::string(kWrongArgCount);
    return false;
  }
  std::vector<std::string> peers;
  std::set<std::string> seen;
  for (const std::string& value : v) {
    size_t i = 0;
    while (i < value.size()) {
      while (i < value.size() && value[i] == ' ') ++i;
      size_t j = i;
      while (j < value.size() && value[j] != ' ') ++j;
      if (j > i) {
        const std::string entry = value.substr(i, j - i);
        std::string key;
        if (!ParsePeerAddress(entry, &key, reason)) return false;
        // A peer listed twice would count twice toward every quorum.
        if (!seen.insert(key).second) {
          *reason = StrCat({"peer '", entry, "' is listed twice"});
          return false;
        }
        peers.push_back(entry);
      }
      i = j;
    }
  }
  cfg->peers = std::move(peers);
  return true;
}

std::string GetPeers(const Config& cfg) {
  std::string joined;
  for (const std::string& peer : cfg.peers) {
    if (!joined.empty()) joined += ' ';
    joined += peer;
  }
  return joined;
}

// "write-quorum 4 is more than the 3 nodes of the cluster (peers + this node)",
// or the empty string when `quorum` fits.
std::string QuorumTooLarge(std::string_view name, int quorum, int nodes) {
  if (quorum <= nodes) return {};
  return StrCat({name, " ", std::to_string(quorum), " is more than the ", std::to_string(nodes),
                 nodes == 1 ? " node" : " nodes", " of the cluster (peers + this node)"});
}

// The single table of options: adding one means adding one entry here (and a
// field in Config, and a paragraph in conf/causalkv.conf).
// Redis's bounds for the listpack thresholds (LONG_MAX).
bool SetHashMaxEntries(const Values& v, Config* cfg, std::string* reason) {
  return ParseIntValue(v, 0, INT64_MAX, &cfg->hash_max_listpack_entries, reason);
}
// The *-max-listpack-value options are memory values in Redis ("1kb").
bool ParseListpackValueLimit(const Values& v, int64_t* out, std::string* reason) {
  if (v.size() == 1 && v[0].empty()) {  // Redis reads an empty memory value as 0
    *out = 0;
    return true;
  }
  uint64_t bytes;
  if (!ParseMemoryValue(v, 0, INT64_MAX, &bytes, reason)) return false;
  *out = static_cast<int64_t>(bytes);
  return true;
}
bool SetHashMaxValue(const Values& v, Config* cfg, std::string* reason) {
  return ParseListpackValueLimit(v, &cfg->hash_max_listpack_value, reason);
}
bool SetZsetMaxEntries(const Values& v, Config* cfg, std::string* reason) {
  return ParseIntValue(v, 0, INT64_MAX, &cfg->zset_max_listpack_entries, reason);
}
bool SetZsetMaxValue(const Values& v, Config* cfg, std::string* reason) {
  return ParseListpackValueLimit(v, &cfg->zset_max_listpack_value, reason);
}
bool SetListMaxSize(const Values& v, Config* cfg, std::string* reason) {
  return ParseIntValue(v, INT_MIN, INT_MAX, &cfg->list_max_listpack_size, reason);
}

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
       // Redis reads zero addresses as "every interface"; causalkv asks for
       // that to be spelled out ("* -::*") rather than implied by a typo.
       if (v.empty()) {
         *reason = std::string(kWrongArgCount);
         return false;
       }
       // A config line gives the addresses as separate values, CONFIG GET's
       // output as one blank-separated string; both are accepted (as peers).
       std::vector<std::string> addresses;
       for (const std::string& value : v) {
         const size_t before = addresses.size();
         size_t i = 0;
         while (i < value.size()) {
           while (i < value.size() && value[i] == ' ') ++i;
           size_t j = i;
           while (j < value.size() && value[j] != ' ') ++j;
           if (j > i) addresses.push_back(value.substr(i, j - i));
           i = j;
         }
         if (addresses.size() == before) {
           *reason = "bind address can't be empty";
           return false;
         }
       }
       if (addresses.size() > kMaxBindAddresses) {
         *reason = "Too many bind addresses specified.";
         return false;
       }
       // A host name or an IP literal never needs quoting, so CONFIG REWRITE
       // can write the list as CONFIG GET shows it.
       for (const std::string& address : addresses) {
         for (const char c : address) {
           const auto u = static_cast<unsigned char>(c);
           if (u <= ' ' || u >= 0x7f || c == '"' || c == '\'' || c == '\\') {
             *reason = StrCat({"bind address '", address, "' is not a host name or an IP address"});
             return false;
           }
         }
       }
       cfg->bind = std::move(addresses);
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

    // Protection, client limits, running as a daemon and the slow log.
    {"protected-mode", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseYesNo(v, &cfg->protected_mode, reason);
     },
     [](const Config& cfg) { return YesNo(cfg.protected_mode); }},

    {"unixsocket", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       cfg->unixsocket = v[0];
       return true;
     },
     [](const Config& cfg) { return cfg.unixsocket; }},

    {"unixsocketperm", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       int perm = 0;
       if (!ParseOctal(v[0], &perm)) {
         *reason = std::string(kNotAnInteger);
         return false;
       }
       if (perm > 0777) {
         *reason = RangeError(0, 0777);
         return false;
       }
       cfg->unixsocketperm = perm;
       return true;
     },
     [](const Config& cfg) { return FormatOctal(cfg.unixsocketperm); }},

    {"maxclients", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 1, UINT_MAX, &cfg->maxclients, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.maxclients); }},

    {"timeout", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t seconds = 0;
       if (!ParseIntValue(v, 0, INT_MAX, &seconds, reason)) return false;
       cfg->timeout = static_cast<int>(seconds);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.timeout); }},

    {"tcp-keepalive", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t seconds = 0;
       if (!ParseIntValue(v, 0, INT_MAX, &seconds, reason)) return false;
       cfg->tcp_keepalive = static_cast<int>(seconds);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.tcp_keepalive); }},

    {"client-output-buffer-limit", true, SetOutputBufferLimits, GetOutputBufferLimits},

    {"client-query-buffer-limit", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       // Bounds as in Redis: at least 1mb, at most LONG_MAX.
       return ParseMemoryValue(v, 1024 * 1024, std::numeric_limits<int64_t>::max(),
                               &cfg->client_query_buffer_limit, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.client_query_buffer_limit); }},

    {"daemonize", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseYesNo(v, &cfg->daemonize, reason);
     },
     [](const Config& cfg) { return YesNo(cfg.daemonize); }},

    {"pidfile", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       cfg->pidfile = v[0];
       return true;
     },
     [](const Config& cfg) { return cfg.pidfile; }},

    {"supervised", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       for (const SupervisedEntry& entry : kSupervisedModes) {
         if (EqualsNoCase(v[0], entry.name)) {
           cfg->supervised = entry.mode;
           return true;
         }
       }
       *reason = "argument(s) must be one of the following: upstart, systemd, auto, no";
       return false;
     },
     [](const Config& cfg) { return std::string(SupervisedName(cfg.supervised)); }},

    {"slowlog-log-slower-than", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, -1, std::numeric_limits<int64_t>::max(),
                            &cfg->slowlog_log_slower_than, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.slowlog_log_slower_than); }},

    {"slowlog-max-len", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t len = 0;
       if (!ParseIntValue(v, 0, std::numeric_limits<int64_t>::max(), &len, reason)) return false;
       cfg->slowlog_max_len = static_cast<uint64_t>(len);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.slowlog_max_len); }},

    {"busy-reply-threshold", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, std::numeric_limits<int64_t>::max(),
                            &cfg->busy_reply_threshold, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.busy_reply_threshold); }},
    {"lua-time-limit", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, std::numeric_limits<int64_t>::max(),
                            &cfg->busy_reply_threshold, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.busy_reply_threshold); }},

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

    {"tracking-table-max-keys", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 0, std::numeric_limits<int64_t>::max(), &n, reason)) return false;
       cfg->tracking_table_max_keys = static_cast<uint64_t>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.tracking_table_max_keys); }},

    {"save", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       // `save ""` clears; otherwise pairs of <seconds> <changes>. A value
       // may also come as one string ("3600 1 300 100"), as CONFIG SET sends it.
       std::vector<std::string> words;
       for (const std::string& value : v) {
         size_t i = 0;
         while (i < value.size()) {
           while (i < value.size() && value[i] == ' ') ++i;
           size_t j = i;
           while (j < value.size() && value[j] != ' ') ++j;
           if (j > i) words.push_back(value.substr(i, j - i));
           i = j;
         }
       }
       if (words.size() % 2 != 0) {
         *reason = "Invalid save parameters";
         return false;
       }
       std::vector<Config::SavePoint> points;
       for (size_t i = 0; i < words.size(); i += 2) {
         int64_t seconds = 0, changes = 0;
         if (!ParseIntValue({words[i]}, 1, INT_MAX, &seconds, reason) ||
             !ParseIntValue({words[i + 1]}, 0, INT_MAX, &changes, reason)) {
           *reason = "Invalid save parameters";
           return false;
         }
         points.push_back({seconds, changes});
       }
       cfg->save_points = std::move(points);
       return true;
     },
     [](const Config& cfg) {
       std::string out;
       for (const Config::SavePoint& p : cfg.save_points) {
         if (!out.empty()) out += ' ';
         out += std::to_string(p.seconds) + " " + std::to_string(p.changes);
       }
       return out;
     }},

    {"dbfilename", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       if (v[0].empty() || v[0].find('/') != std::string::npos) {
         *reason = "dbfilename can't be a path, just a filename";
         return false;
       }
       cfg->dbfilename = v[0];
       return true;
     },
     [](const Config& cfg) { return cfg.dbfilename; }},

    {"start-empty-on-corrupt-snapshot", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       if (EqualsNoCase(v[0], "yes")) {
         cfg->start_empty_on_corrupt_snapshot = true;
       } else if (EqualsNoCase(v[0], "no")) {
         cfg->start_empty_on_corrupt_snapshot = false;
       } else {
         *reason = "argument must be 'yes' or 'no'";
         return false;
       }
       return true;
     },
     [](const Config& cfg) {
       return std::string(cfg.start_empty_on_corrupt_snapshot ? "yes" : "no");
     }},

    {"appendonly", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseYesNo(v, &cfg->appendonly, reason);
     },
     [](const Config& cfg) { return std::string(cfg.appendonly ? "yes" : "no"); }},

    {"appendfilename", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       if (v[0].empty() || v[0].find('/') != std::string::npos) {
         *reason = "appendfilename can't be a path, just a filename";
         return false;
       }
       cfg->appendfilename = v[0];
       return true;
     },
     [](const Config& cfg) { return cfg.appendfilename; }},

    {"appendfsync", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       for (const char* mode : {"always", "everysec", "no"}) {
         if (EqualsNoCase(v[0], mode)) {
           cfg->appendfsync = mode;
           return true;
         }
       }
       *reason = "argument(s) must be one of the following: always, everysec, no";
       return false;
     },
     [](const Config& cfg) { return cfg.appendfsync; }},

    {"aof-load-truncated", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseYesNo(v, &cfg->aof_load_truncated, reason);
     },
     [](const Config& cfg) { return std::string(cfg.aof_load_truncated ? "yes" : "no"); }},

    {"auto-aof-rewrite-percentage", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 0, INT_MAX, &n, reason)) return false;
       cfg->auto_aof_rewrite_percentage = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.auto_aof_rewrite_percentage); }},

    {"auto-aof-rewrite-min-size", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseMemoryValue(v, 0, std::numeric_limits<int64_t>::max(),
                               &cfg->auto_aof_rewrite_min_size, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.auto_aof_rewrite_min_size); }},

    {"hash-max-listpack-entries", true, SetHashMaxEntries,
     [](const Config& cfg) { return std::to_string(cfg.hash_max_listpack_entries); }},
    {"hash-max-listpack-value", true, SetHashMaxValue,
     [](const Config& cfg) { return std::to_string(cfg.hash_max_listpack_value); }},
    {"hash-max-ziplist-entries", true, SetHashMaxEntries,
     [](const Config& cfg) { return std::to_string(cfg.hash_max_listpack_entries); }},
    {"hash-max-ziplist-value", true, SetHashMaxValue,
     [](const Config& cfg) { return std::to_string(cfg.hash_max_listpack_value); }},
    {"set-max-intset-entries", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, INT64_MAX, &cfg->set_max_intset_entries, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.set_max_intset_entries); }},
    {"set-max-listpack-entries", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, INT64_MAX, &cfg->set_max_listpack_entries, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.set_max_listpack_entries); }},
    {"set-max-listpack-value", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseListpackValueLimit(v, &cfg->set_max_listpack_value, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.set_max_listpack_value); }},
    {"zset-max-listpack-entries", true, SetZsetMaxEntries,
     [](const Config& cfg) { return std::to_string(cfg.zset_max_listpack_entries); }},
    {"zset-max-listpack-value", true, SetZsetMaxValue,
     [](const Config& cfg) { return std::to_string(cfg.zset_max_listpack_value); }},
    {"zset-max-ziplist-entries", true, SetZsetMaxEntries,
     [](const Config& cfg) { return std::to_string(cfg.zset_max_listpack_entries); }},
    {"zset-max-ziplist-value", true, SetZsetMaxValue,
     [](const Config& cfg) { return std::to_string(cfg.zset_max_listpack_value); }},
    {"list-max-listpack-size", true, SetListMaxSize,
     [](const Config& cfg) { return std::to_string(cfg.list_max_listpack_size); }},
    {"list-max-ziplist-size", true, SetListMaxSize,
     [](const Config& cfg) { return std::to_string(cfg.list_max_listpack_size); }},
    {"list-compress-depth", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, INT_MAX, &cfg->list_compress_depth, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.list_compress_depth); }},
    {"stream-node-max-bytes", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseMemoryValue(v, 0, std::numeric_limits<int64_t>::max(),
                               &cfg->stream_node_max_bytes, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.stream_node_max_bytes); }},
    {"stream-node-max-entries", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, std::numeric_limits<int64_t>::max(),
                            &cfg->stream_node_max_entries, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.stream_node_max_entries); }},
    {"hll-sparse-max-bytes", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       // Bounds as in Redis (a size: units allowed); 0 keeps every HLL dense.
       return ParseMemoryValue(v, 0, std::numeric_limits<int64_t>::max(),
                               &cfg->hll_sparse_max_bytes, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.hll_sparse_max_bytes); }},

    {"notify-keyspace-events", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       uint32_t flags = 0;
       if (!ParseNotifyKeyspaceEvents(v[0], &flags)) {
         // Redis's wording, letters included, so that a Redis client sees
         // the same error; conf/causalkv.conf documents v and c.
         *reason = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
         return false;
       }
       cfg->notify_keyspace_events = flags;
       return true;
     },
     [](const Config& cfg) { return NotifyKeyspaceEventsString(cfg.notify_keyspace_events); }},

    {"max-siblings", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 1, 1'000'000, &n, reason)) return false;
       cfg->max_siblings = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(cfg.max_siblings); }},

    // Cluster. Peers and the secret are read once at startup: the links and
    // the replica sets are built from them.
    {"peers", false, SetPeers, GetPeers},

    {"peer-secret", false,
     [](const Values& v, Config* cfg, std::string* reason) {
       if (!ExpectOneValue(v, reason)) return false;
       cfg->peer_secret = v[0];
       return true;
     },
     // Shown like requirepass, which Redis's CONFIG GET also shows.
     [](const Config& cfg) { return cfg.peer_secret; }},

    {"write-quorum", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 0, kMaxQuorum, &n, reason)) return false;
       cfg->write_quorum = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(EffectiveWriteQuorum(cfg)); }},

    {"read-quorum", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       int64_t n = 0;
       if (!ParseIntValue(v, 0, kMaxQuorum, &n, reason)) return false;
       cfg->read_quorum = static_cast<int>(n);
       return true;
     },
     [](const Config& cfg) { return std::to_string(EffectiveReadQuorum(cfg)); }},

    {"peer-timeout", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 1, kMaxPeerTimeoutMs, &cfg->peer_timeout_ms, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.peer_timeout_ms); }},

    {"anti-entropy-interval", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 10, kMaxAntiEntropyIntervalMs, &cfg->anti_entropy_interval_ms,
                            reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.anti_entropy_interval_ms); }},

    {"tombstone-grace", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, kMaxTombstoneGraceMs, &cfg->tombstone_grace_ms, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.tombstone_grace_ms); }},

    {"expired-grace", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseIntValue(v, 0, kMaxTombstoneGraceMs, &cfg->expired_grace_ms, reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.expired_grace_ms); }},

    {"hints-max-memory", true,
     [](const Values& v, Config* cfg, std::string* reason) {
       return ParseMemoryValue(v, 0, std::numeric_limits<int64_t>::max(), &cfg->hints_max_memory,
                               reason);
     },
     [](const Config& cfg) { return std::to_string(cfg.hints_max_memory); }},
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

namespace {

// One letter per class, in the order Redis prints them (after A).
struct NotifyLetter {
  char letter;
  uint32_t bit;
};
constexpr NotifyLetter kNotifyClassLetters[] = {
    {'g', kNotifyGeneric}, {'$', kNotifyString},  {'l', kNotifyList},     {'s', kNotifySet},
    {'h', kNotifyHash},    {'z', kNotifyZset},    {'x', kNotifyExpired},  {'e', kNotifyEvicted},
    {'t', kNotifyStream},  {'d', kNotifyModule},  {'n', kNotifyNew}};

}  // namespace

bool ParseNotifyKeyspaceEvents(std::string_view text, uint32_t* flags) {
  uint32_t out = 0;
  for (const char c : text) {
    switch (c) {
      case 'A': out |= kNotifyAll; continue;
      case 'K': out |= kNotifyKeyspace; continue;
      case 'E': out |= kNotifyKeyevent; continue;
      case 'm': out |= kNotifyKeyMiss; continue;
      case 'v': out |= kNotifyVersioned; continue;
      case 'c': out |= kNotifyConflict; continue;
      default: break;
    }
    bool known = false;
    for (const NotifyLetter& l : kNotifyClassLetters) {
      if (l.letter == c) {
        out |= l.bit;
        known = true;
      }
    }
    if (!known) return false;
  }
  *flags = out;
  return true;
}

std::string NotifyKeyspaceEventsString(uint32_t flags) {
  std::string out;
  if ((flags & kNotifyAll) == kNotifyAll) {
    out += 'A';
  } else {
    for (const NotifyLetter& l : kNotifyClassLetters) {
      if (flags & l.bit) out += l.letter;
    }
  }
  if (flags & kNotifyVersioned) out += 'v';
  if (flags & kNotifyConflict) out += 'c';
  if (flags & kNotifyKeyspace) out += 'K';
  if (flags & kNotifyKeyevent) out += 'E';
  if (flags & kNotifyKeyMiss) out += 'm';
  return out;
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
  // Staged, so that a value the setter accepts but the cluster cannot take
  // (a quorum above the number of nodes) still changes nothing.
  Config staged = *cfg;
  std::string reason;
  bool ok = option->set(values, &staged, &reason);
  if (ok && runtime) {
    if (option->name == "write-quorum") {
      reason = QuorumTooLarge(option->name, staged.write_quorum, ClusterSize(staged));
    } else if (option->name == "read-quorum") {
      reason = QuorumTooLarge(option->name, staged.read_quorum, ClusterSize(staged));
    }
    ok = reason.empty();
  }
  if (!ok) {
    *error = runtime ? StrCat({"CONFIG SET failed (possibly related to argument '", option->name,
                               "') - ", reason})
                     : StrCat({"option '", option->name, "': ", reason});
    return false;
  }
  *cfg = std::move(staged);
  return true;
}

int ClusterSize(const Config& cfg) { return static_cast<int>(cfg.peers.size()) + 1; }

int EffectiveWriteQuorum(const Config& cfg) {
  return cfg.write_quorum != 0 ? cfg.write_quorum : ClusterSize(cfg) / 2 + 1;
}

int EffectiveReadQuorum(const Config& cfg) {
  return cfg.read_quorum != 0 ? cfg.read_quorum : ClusterSize(cfg) / 2 + 1;
}

bool ValidateCluster(const Config& cfg, std::string* error) {
  if (!cfg.peers.empty() && cfg.peer_secret.empty()) {
    *error =
        "peers is set but peer-secret is empty: the commands nodes send each other can "
        "overwrite any key, so peer links must authenticate; set peer-secret to the same "
        "secret on every node";
    return false;
  }
  const int nodes = ClusterSize(cfg);
  std::string reason = QuorumTooLarge("write-quorum", cfg.write_quorum, nodes);
  if (reason.empty()) reason = QuorumTooLarge("read-quorum", cfg.read_quorum, nodes);
  if (!reason.empty()) {
    *error = std::move(reason);
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
  bool check_only = false;
  if (argc >= 2) {
    const std::string_view first = argv[1];
    if (first == "--version" || first == "-v") return LoadResult::kVersion;
    if (first == "--help" || first == "-h") return LoadResult::kHelp;
    check_only = first == "--check-config";
  }
  if (check_only && argc < 3) {
    *error = "--check-config needs the file to check: causalkv-server --check-config "
             "/path/to/causalkv.conf [--option value ...]";
    return LoadResult::kError;
  }

  Config staged = *out;
  // The file comes right after --check-config whatever its name, so that a
  // check never silently falls back to the defaults.
  int i = check_only ? 2 : 1;
  if (check_only || (argc >= 2 && !StartsWithDashDash(argv[1]))) {
    const std::string path = argv[i];
    std::string text;
    std::string os_error;
    if (!ReadWholeFile(path, &text, &os_error)) {
      *error = StrCat({"Fatal error, can't open config file '", path, "': ", os_error});
      return LoadResult::kError;
    }
    const std::string absolute = AbsolutePath(path);
    if (!LoadFromText(text, absolute, &staged, error)) return LoadResult::kError;
    staged.config_file = absolute;
    ++i;
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

  // Only now is every directive in: `peers` may follow the quorums.
  std::string reason;
  if (!ValidateCluster(staged, &reason)) {
    *error = StrCat({kFatalHeader, "Checking the cluster options\n", reason});
    return LoadResult::kError;
  }

  *out = std::move(staged);
  return check_only ? LoadResult::kCheckConfig : LoadResult::kRun;
}

namespace {

// CONFIG GET shows these as a list of words; the file gets them unquoted
// (an empty list as "").
bool IsListOption(std::string_view name) {
  return name == "bind" || name == "client-output-buffer-limit" || name == "save" ||
         name == "peers";
}

// Sizes the file shows with units, as Redis's rewrite does.
bool IsMemoryOption(std::string_view name) {
  return name == "proto-max-bulk-len" || name == "client-query-buffer-limit" ||
         name == "maxmemory" || name == "hints-max-memory" || name == "hll-sparse-max-bytes";
}

// The value as the file gets it: CONFIG GET's, except that the quorums are
// written as configured, so that 0 ("a majority") still follows the cluster
// size after peers are added, instead of being frozen at today's number.
std::string FileValue(const Config& cfg, const Option& option) {
  if (option.name == "write-quorum") return std::to_string(cfg.write_quorum);
  if (option.name == "read-quorum") return std::to_string(cfg.read_quorum);
  return option.get(cfg);
}

std::string FormatMemory(uint64_t bytes) {
  constexpr uint64_t kKb = 1024, kMb = kKb * 1024, kGb = kMb * 1024;
  if (bytes != 0 && bytes % kGb == 0) return std::to_string(bytes / kGb) + "gb";
  if (bytes != 0 && bytes % kMb == 0) return std::to_string(bytes / kMb) + "mb";
  if (bytes != 0 && bytes % kKb == 0) return std::to_string(bytes / kKb) + "kb";
  return std::to_string(bytes);
}

std::string DirectiveLine(const Config& cfg, const Option& option) {
  const std::string value = FileValue(cfg, option);
  std::string line(option.name);
  line += ' ';
  uint64_t bytes = 0;
  if (IsListOption(option.name) && !value.empty()) {
    line += value;
  } else if (IsMemoryOption(option.name) && ParseMemory(value, &bytes)) {
    line += FormatMemory(bytes);
  } else {
    line += internal::QuoteArg(value);
  }
  return line;
}

// Redis's marker above the lines a rewrite appends; a file that has it
// already gets no second one.
constexpr std::string_view kRewriteSignature = "# Generated by CONFIG REWRITE";

std::string OsError(int err) { return std::generic_category().message(err); }

// Writes `text` to `path` through a synced temporary file and a rename, so
// that a crash leaves either the old file or the new one.
bool ReplaceFileAtomically(const std::string& path, const std::string& text, mode_t mode,
                           std::string* error) {
  std::string tmp = path + ".rewrite-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    *error = OsError(errno);
    return false;
  }
  size_t written = 0;
  bool ok = true;
  while (ok && written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else written += static_cast<size_t>(n);
  }
  ok = ok && ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (ok && ::rename(tmp.c_str(), path.c_str()) == 0) {
    // The rename itself must reach the disk too.
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
    return true;
  }
  *error = OsError(ok ? errno : saved_errno);
  ::unlink(tmp.c_str());
  return false;
}

}  // namespace

std::string RewriteConfigText(const Config& cfg, std::string_view old_text) {
  const Config defaults;
  std::vector<bool> done(std::size(kOptions), false);
  bool has_signature = false;
  std::string out;
  std::vector<std::string> args;
  size_t start = 0;
  while (start < old_text.size()) {
    size_t end = old_text.find('\n', start);
    if (end == std::string_view::npos) end = old_text.size();
    const std::string_view line = old_text.substr(start, end - start);
    start = end + 1;
    const std::string_view trimmed = Trim(line);
    if (trimmed == kRewriteSignature) has_signature = true;
    const Option* option = nullptr;
    if (!trimmed.empty() && trimmed[0] != '#' && internal::SplitArgs(trimmed, &args) &&
        !args.empty()) {
      option = FindOption(args[0]);
    }
    if (option == nullptr) {  // comments, blanks, anything we do not own
      out.append(line).append("\n");
      continue;
    }
    const size_t index = static_cast<size_t>(option - kOptions);
    if (done[index]) continue;  // a repeat: the first line now holds the value
    done[index] = true;
    out.append(DirectiveLine(cfg, *option)).append("\n");
  }
  for (size_t i = 0; i < std::size(kOptions); ++i) {
    if (done[i] || FileValue(cfg, kOptions[i]) == FileValue(defaults, kOptions[i])) continue;
    if (!has_signature) {
      out.append(kRewriteSignature).append("\n");
      has_signature = true;
    }
    out.append(DirectiveLine(cfg, kOptions[i])).append("\n");
  }
  return out;
}

bool RewriteConfigFile(const Config& cfg, std::string* error) {
  if (cfg.config_file.empty()) {
    *error = "The server is running without a config file";
    return false;
  }
  std::string old_text;
  std::string os_error;
  // Like Redis, a config file deleted since the start is created again.
  mode_t mode = 0644;
  struct stat st;
  if (::stat(cfg.config_file.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
    if (!ReadWholeFile(cfg.config_file, &old_text, &os_error)) {
      *error = "Rewriting config file: " + os_error;
      return false;
    }
  } else if (errno != ENOENT) {
    *error = "Rewriting config file: " + OsError(errno);
    return false;
  }
  if (!ReplaceFileAtomically(cfg.config_file, RewriteConfigText(cfg, old_text), mode,
                             &os_error)) {
    *error = "Rewriting config file: " + os_error;
    return false;
  }
  return true;
}

}  // namespace causalkv::config
