#include "command_table.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>

#include "args.h"

namespace causalkv::command {

CommandTable::CommandTable() {
  std::vector<CommandSpec> specs;
  RegisterVersionCommands(&specs);
  RegisterStringCommands(&specs);
  RegisterHashCommands(&specs);
  RegisterSetCommands(&specs);
  RegisterListCommands(&specs);
  RegisterZsetCommands(&specs);
  RegisterStreamCommands(&specs);
  RegisterGeoCommands(&specs);
  RegisterBitmapCommands(&specs);
  RegisterHyperLogLogCommands(&specs);
  RegisterSortCommands(&specs);
  RegisterKeyspaceCommands(&specs);
  RegisterConnectionCommands(&specs);
  RegisterServerCommands(&specs);
  RegisterTransactionCommands(&specs);
  RegisterPubSubCommands(&specs);
  RegisterPersistenceCommands(&specs);
  RegisterPeerCommands(&specs);
  RegisterScriptCommands(&specs);
  RegisterFunctionCommands(&specs);
  for (CommandSpec& spec : specs) Add(std::move(spec));
  for (CommandSpec& spec : specs_) {
    spec.id = id_count_++;
    for (CommandSpec& sub : spec.subcommands) sub.id = id_count_++;
  }
}

bool ParseBlockingTimeout(std::string_view arg, int64_t now_ms, int64_t* timeout_ms,
                          const char** error) {
  long double v;
  if (!ParseLongDouble(arg, &v) || std::isnan(v)) {
    *error = "timeout is not a float or out of range";
    return false;
  }
  const long double ms = std::ceil(v * 1000);
  if (ms > static_cast<long double>(INT64_MAX)) {
    *error = "timeout is out of range";
    return false;
  }
  if (ms < 0) {
    *error = "timeout is negative";
    return false;
  }
  *timeout_ms = static_cast<int64_t>(ms);
  if (*timeout_ms > INT64_MAX - now_ms) {
    *error = "timeout is out of range";
    return false;
  }
  return true;
}

bool ExtraWrittenKey(const CommandSpec& spec, std::span<const std::string_view> args,
                      int client_db, int databases, int* db, std::string_view* key) {
  int64_t target = -1;
  if (spec.name == "move" && args.size() >= 3) {
    if (!ParseInt64(args[2], &target)) return false;
    *key = args[1];
  } else if (spec.name == "copy") {
    for (size_t j = 3; j + 1 < args.size(); ++j) {
      if (EqualsIgnoreCase(args[j], "db") && ParseInt64(args[j + 1], &target)) break;
    }
    *key = args.size() > 2 ? args[2] : std::string_view();
  } else if (spec.name == "sort") {
    for (size_t j = 2; j + 1 < args.size(); ++j) {
      if (EqualsIgnoreCase(args[j], "store")) {
        *db = client_db;
        *key = args[j + 1];
        return true;
      }
      // Skip option values (SORT k BY store is a pattern, not STORE).
      if (EqualsIgnoreCase(args[j], "by") || EqualsIgnoreCase(args[j], "get")) ++j;
      if (EqualsIgnoreCase(args[j], "limit")) j += 2;
    }
    return false;
  } else if (spec.name == "georadius" || spec.name == "georadiusbymember") {
    // STORE/STOREDIST key among the options (the last one counts), which
    // start after "key lon lat radius unit" or "key member radius unit".
    bool found = false;
    for (size_t j = spec.name == "georadius" ? 6 : 5; j + 1 < args.size(); ++j) {
      if (EqualsIgnoreCase(args[j], "store") || EqualsIgnoreCase(args[j], "storedist")) {
        *key = args[++j];
        found = true;
      } else if (EqualsIgnoreCase(args[j], "count")) {
        ++j;
      }
    }
    *db = client_db;
    return found;
  } else {
    return false;
  }
  if (target < 0 || target >= databases || target == client_db) return false;
  *db = static_cast<int>(target);
  return true;
}

void CommandTable::Add(CommandSpec spec) {
  index_.emplace(spec.name, specs_.size());
  specs_.push_back(std::move(spec));
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  if (name.size() > kMaxName) return nullptr;  // no such name; do not hash a huge argument
  if (name.size() == last_name_size_ &&
      (name.empty() || std::memcmp(name.data(), last_name_, name.size()) == 0)) {
    return last_spec_;
  }
  last_spec_ = FindInIndex(name);
  if (!name.empty()) std::memcpy(last_name_, name.data(), name.size());
  last_name_size_ = name.size();
  return last_spec_;
}

const CommandSpec* CommandTable::FindInIndex(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &specs_[it->second];
}

const CommandSpec* CommandTable::FindSub(const CommandSpec& container, std::string_view sub) {
  for (const CommandSpec& s : container.subcommands) {
    const std::string_view short_name = std::string_view(s.name).substr(s.name.find('|') + 1);
    if (EqualsIgnoreCase(short_name, sub)) return &s;
  }
  return nullptr;
}

namespace {

void WriteFlags(resp::Writer& w, uint32_t flags) {
  static constexpr std::pair<CommandFlag, const char*> kNames[] = {
      {kWrite, "write"},     {kReadOnly, "readonly"}, {kDenyOom, "denyoom"},
      {kAdmin, "admin"},     {kNoScript, "noscript"}, {kRandom, "random"}, {kNoMulti, "no_multi"},
      {kLoading, "loading"}, {kStale, "stale"},       {kSkipSlowlog, "skip_slowlog"},
      {kFast, "fast"},       {kNoAuth, "no_auth"}};
  int n = 0;
  for (const auto& [flag, name] : kNames)
    if (flags & flag) ++n;
  w.SetHeader(n);
  for (const auto& [flag, name] : kNames)
    if (flags & flag) w.SimpleString(name);
}

const char* AclCategory(const CommandSpec& spec) {
  if (spec.group == "string") return "@string";
  if (spec.group == "generic") return "@keyspace";
  if (spec.group == "connection") return "@connection";
  if (spec.group == "server") return "@admin";
  return "@causalkv";
}

// One argument of the docs notation, parsed.
struct ArgDoc {
  std::string name;
  std::string type;
  std::string token;
  bool optional = false;
  bool multiple = false;
  std::vector<std::string> alternatives;  // a "oneof" of pure tokens (A|B|C)
};

std::vector<ArgDoc> ParseArgsDoc(std::string_view doc) {
  std::vector<ArgDoc> out;
  size_t i = 0;
  while (i < doc.size()) {
    while (i < doc.size() && doc[i] == ' ') ++i;
    if (i >= doc.size()) break;
    size_t end = doc.find(' ', i);
    if (end == std::string_view::npos) end = doc.size();
    std::string_view word = doc.substr(i, end - i);
    i = end;
    ArgDoc arg;
    if (word.starts_with('[') && word.ends_with(']')) {
      arg.optional = true;
      word = word.substr(1, word.size() - 2);
    }
    if (word.ends_with("...")) {
      arg.multiple = true;
      word.remove_suffix(3);
    }
    const size_t eq = word.find('=');
    if (eq != std::string_view::npos) {
      arg.token = std::string(word.substr(0, eq));
      word = word.substr(eq + 1);
    }
    // The type follows the last colon, so a name may contain one ("ip:port").
    const size_t colon = word.rfind(':');
    const std::string_view choices = colon == std::string_view::npos ? word : word.substr(0, colon);
    if (choices.find('|') != std::string_view::npos &&
        (colon == std::string_view::npos || word.substr(colon + 1) == "oneof")) {
      // LEFT|RIGHT: one of these tokens (redis-cli's hints need each of them).
      for (size_t from = 0; from <= choices.size();) {
        size_t bar = choices.find('|', from);
        if (bar == std::string_view::npos) bar = choices.size();
        arg.alternatives.emplace_back(choices.substr(from, bar - from));
        from = bar + 1;
      }
      arg.name = ToLower(arg.token.empty() ? choices : std::string_view(arg.token));
      arg.type = "oneof";
    } else if (colon == std::string_view::npos) {
      arg.token = std::string(word);
      arg.name = ToLower(word);
      arg.type = "pure-token";
    } else {
      arg.name = std::string(word.substr(0, colon));
      arg.type = std::string(word.substr(colon + 1));
    }
    out.push_back(std::move(arg));
  }
  return out;
}

void WriteArgDoc(resp::Writer& w, const ArgDoc& arg) {
  const bool oneof = !arg.alternatives.empty();
  int fields = 2 + (arg.type != "pure-token" && !oneof ? 1 : 0) + (arg.token.empty() ? 0 : 1) +
               ((arg.optional || arg.multiple) ? 1 : 0) + (oneof ? 1 : 0);
  w.MapHeader(fields);
  w.Bulk("name");
  w.Bulk(arg.name);
  w.Bulk("type");
  w.Bulk(arg.type);
  if (oneof) {
    w.Bulk("arguments");
    w.ArrayHeader(static_cast<int64_t>(arg.alternatives.size()));
    for (const std::string& alt : arg.alternatives) {
      ArgDoc token;
      token.name = ToLower(alt);
      token.type = "pure-token";
      token.token = alt;
      WriteArgDoc(w, token);
    }
  } else if (arg.type != "pure-token") {
    w.Bulk("display_text");
    w.Bulk(arg.name);
  }
  if (!arg.token.empty()) {
    w.Bulk("token");
    w.Bulk(arg.token);
  }
  if (arg.optional || arg.multiple) {
    w.Bulk("flags");
    w.SetHeader((arg.optional ? 1 : 0) + (arg.multiple ? 1 : 0));
    if (arg.optional) w.SimpleString("optional");
    if (arg.multiple) w.SimpleString("multiple");
  }
}

}  // namespace

void WriteCommandInfo(resp::Writer& w, const CommandSpec& spec) {
  // name, arity, flags, first key, last key, step, ACL categories, tips,
  // key specs, subcommands: the ten fields of Redis 7.
  w.ArrayHeader(10);
  w.Bulk(spec.name);
  w.Integer(spec.arity);
  WriteFlags(w, spec.flags);
  w.Integer(spec.first_key);
  w.Integer(spec.last_key);
  w.Integer(spec.key_step);
  w.SetHeader(1);
  w.SimpleString(AclCategory(spec));
  w.SetHeader(0);
  if (spec.first_key == 0) {
    w.ArrayHeader(0);
  } else {
    w.ArrayHeader(1);
    w.MapHeader(3);
    w.Bulk("flags");
    w.SetHeader(1);
    w.SimpleString((spec.flags & kWrite) ? "RW" : "RO");
    w.Bulk("begin_search");
    w.MapHeader(2);
    w.Bulk("type");
    w.Bulk("index");
    w.Bulk("spec");
    w.MapHeader(1);
    w.Bulk("index");
    w.Integer(spec.first_key);
    w.Bulk("find_keys");
    w.MapHeader(2);
    w.Bulk("type");
    w.Bulk("range");
    w.Bulk("spec");
    w.MapHeader(3);
    w.Bulk("lastkey");
    w.Integer(spec.last_key < 0 ? spec.last_key : spec.last_key - spec.first_key);
    w.Bulk("keystep");
    w.Integer(spec.key_step);
    w.Bulk("limit");
    w.Integer(0);
  }
  w.ArrayHeader(static_cast<int64_t>(spec.subcommands.size()));
  for (const CommandSpec& sub : spec.subcommands) WriteCommandInfo(w, sub);
}

void WriteCommandDocs(resp::Writer& w, const CommandSpec& spec) {
  const std::vector<ArgDoc> args = ParseArgsDoc(spec.args_doc);
  const int fields = 4 + (args.empty() ? 0 : 1) + (spec.subcommands.empty() ? 0 : 1);
  w.MapHeader(fields);
  w.Bulk("summary");
  w.Bulk(spec.summary);
  w.Bulk("since");
  w.Bulk(spec.since);
  w.Bulk("group");
  w.Bulk(spec.group);
  w.Bulk("complexity");
  w.Bulk(spec.complexity);
  if (!args.empty()) {
    w.Bulk("arguments");
    w.ArrayHeader(static_cast<int64_t>(args.size()));
    for (const ArgDoc& arg : args) WriteArgDoc(w, arg);
  }
  if (!spec.subcommands.empty()) {
    w.Bulk("subcommands");
    w.MapHeader(static_cast<int64_t>(spec.subcommands.size()));
    for (const CommandSpec& sub : spec.subcommands) {
      w.Bulk(sub.name);
      WriteCommandDocs(w, sub);
    }
  }
}

}  // namespace causalkv::command
