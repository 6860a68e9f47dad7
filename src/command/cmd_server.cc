// Server commands: COMMAND, INFO, CONFIG, SLOWLOG, SHUTDOWN, TIME.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>

#include "args.h"
#include "causalkv/command/dispatch.h"
#include "causalkv/command/persistence.h"
#include "causalkv/store/lazy_free.h"
#include "causalkv/util/glob.h"
#include "cmd_common.h"
#include "errors.h"
#include "keyspace_survey.h"
#include "monitor.h"
#include "pubsub.h"
#include "tracking.h"
#include "scripting.h"
#include "slowlog.h"

#ifndef CAUSALKV_VERSION
#define CAUSALKV_VERSION "0.0.0"
#endif

namespace causalkv::command {
namespace {

void CommandAll(Context& ctx) {
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.table.all().size()));
  for (const CommandSpec& spec : ctx.table.all()) WriteCommandInfo(ctx.w, spec);
}

void CommandCount(Context& ctx) { ctx.w.Integer(static_cast<int64_t>(ctx.table.all().size())); }

void CommandList(Context& ctx) {
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.table.all().size()));
  for (const CommandSpec& spec : ctx.table.all()) ctx.w.Bulk(spec.name);
}

// Finds "name" or "container|sub".
const CommandSpec* FindByFullName(const CommandTable& table, std::string_view name) {
  const size_t bar = name.find('|');
  if (bar == std::string_view::npos) return table.Find(name);
  const CommandSpec* container = table.Find(name.substr(0, bar));
  return container == nullptr ? nullptr : CommandTable::FindSub(*container, name.substr(bar + 1));
}

void CommandInfo(Context& ctx) {
  if (ctx.args.size() == 2) {
    CommandAll(ctx);
    return;
  }
  ctx.w.ArrayHeader(static_cast<int64_t>(ctx.args.size() - 2));
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    const CommandSpec* spec = FindByFullName(ctx.table, ctx.args[i]);
    if (spec == nullptr) {
      ctx.w.NullArray();
    } else {
      WriteCommandInfo(ctx.w, *spec);
    }
  }
}

void CommandDocs(Context& ctx) {
  std::vector<const CommandSpec*> specs;
  if (ctx.args.size() == 2) {
    for (const CommandSpec& spec : ctx.table.all()) specs.push_back(&spec);
  } else {
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (const CommandSpec* spec = FindByFullName(ctx.table, ctx.args[i])) specs.push_back(spec);
    }
  }
  ctx.w.MapHeader(static_cast<int64_t>(specs.size()));
  for (const CommandSpec* spec : specs) {
    ctx.w.Bulk(spec->name);
    WriteCommandDocs(ctx.w, *spec);
  }
}

void CommandGetKeys(Context& ctx) {
  const std::span<const std::string_view> cmd = ctx.args.subspan(2);
  const CommandSpec* spec = ctx.table.Find(cmd[0]);
  if (spec == nullptr) {
    ctx.w.Error("Invalid command specified");
    return;
  }
  const int arity = spec->arity;
  if ((arity > 0 && static_cast<int>(cmd.size()) != arity) ||
      static_cast<int>(cmd.size()) < -arity) {
    ctx.w.Error("Invalid number of arguments specified for command");
    return;
  }
  if (spec->first_key == 0 && spec->find_keys == nullptr) {
    ctx.w.Error("The command has no key arguments");
    return;
  }
  std::vector<std::string_view> keys;
  ForEachKeyArg(*spec, cmd, [&](std::string_view key) { keys.push_back(key); });
  ctx.w.ArrayHeader(static_cast<int64_t>(keys.size()));
  for (std::string_view k : keys) ctx.w.Bulk(k);
}

// With no argument, COMMAND lists every command's info.
void Command(Context& ctx) { CommandAll(ctx); }

std::string HumanBytes(uint64_t n) {
  char buf[64];
  const double d = static_cast<double>(n);
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(n));
  } else if (n < 1024ull * 1024) {
    std::snprintf(buf, sizeof buf, "%.2fK", d / 1024);
  } else if (n < 1024ull * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.2fM", d / (1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.2fG", d / (1024.0 * 1024 * 1024));
  }
  return buf;
}

uint64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long pages_total = 0, pages_resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &pages_total, &pages_resident);
  std::fclose(f);
  if (n != 2) return 0;
  return pages_resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

void Line(std::string* out, std::string_view name, const std::string& value) {
  out->append(name).append(":").append(value).append("\r\n");
}
void Line(std::string* out, std::string_view name, uint64_t value) {
  Line(out, name, std::to_string(value));
}

std::string Fixed2(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", value);
  return buf;
}

// "Linux 6.1.0 x86_64", as Redis reports it.
std::string OsName() {
  struct utsname name;
  if (uname(&name) != 0) return "Linux";
  return std::string(name.sysname) + " " + name.release + " " + name.machine;
}

void InfoServer(Context& ctx, std::string* s) {
  const ServerState& st = ctx.server;
  const int64_t uptime_s = (ctx.store.now_ms() - st.start_time_ms) / 1000;
  s->append("# Server\r\n");
  Line(s, "redis_version", std::string(kRedisCompatVersion));
  Line(s, "causalkv_version", std::string(CAUSALKV_VERSION));
  Line(s, "redis_git_sha1", std::string("00000000"));
  Line(s, "redis_git_dirty", 0);
  Line(s, "redis_mode", std::string("standalone"));
  Line(s, "os", OsName());
  Line(s, "arch_bits", std::string("64"));
  Line(s, "multiplexing_api", std::string("libuv"));
  Line(s, "process_id", static_cast<uint64_t>(st.pid));
  Line(s, "process_supervised", st.supervised_by);
  Line(s, "run_id", st.run_id.empty() ? std::string(40, '0') : st.run_id);
  Line(s, "node_id", st.node_id);
  Line(s, "tcp_port", static_cast<uint64_t>(st.tcp_port));
  Line(s, "server_time_usec", static_cast<uint64_t>(ctx.store.now_ms()) * 1000);
  Line(s, "uptime_in_seconds", static_cast<uint64_t>(uptime_s));
  Line(s, "uptime_in_days", static_cast<uint64_t>(uptime_s / 86400));
  Line(s, "hz", static_cast<uint64_t>(st.config.hz));
  Line(s, "configured_hz", static_cast<uint64_t>(st.config.hz));
  Line(s, "executable", st.executable);
  Line(s, "config_file", st.config.config_file);
  Line(s, "io_threads_active", 0);
  s->append("\r\n");
}

void InfoClients(Context& ctx, std::string* s) {
  const ServerState& st = ctx.server;
  s->append("# Clients\r\n");
  Line(s, "connected_clients", st.clients.size());
  Line(s, "cluster_connections", 0);
  Line(s, "maxclients", static_cast<uint64_t>(st.config.maxclients));
  Line(s, "client_recent_max_input_buffer", st.recent_max_input_buffer);
  Line(s, "client_recent_max_output_buffer", st.recent_max_output_buffer);
  Line(s, "blocked_clients", st.blocked_clients + ctx.dispatcher.blocked_on_keys());
  Line(s, "tracking_clients", ctx.dispatcher.tracking().tracking_clients());
  Line(s, "clients_in_timeout_table", 0);
  s->append("\r\n");
}

void InfoMemory(Context& ctx, std::string* s) {
  // The same figure maxmemory is enforced against: the data's exact
  // allocator usable sizes plus the rest of the heap, sampled each second
  // (mallinfo2; it reads 0 under AddressSanitizer, which then leaves the data).
  const uint64_t used = ctx.dispatcher.UsedMemory();
  const uint64_t rss = ResidentBytes();
  s->append("# Memory\r\n");
  Line(s, "used_memory", used);
  Line(s, "used_memory_human", HumanBytes(used));
  Line(s, "used_memory_rss", rss);
  Line(s, "used_memory_rss_human", HumanBytes(rss));
  Line(s, "used_memory_dataset", ctx.store.MemoryBytes());
  {
    // Redis 7's fields and order. One Lua VM runs both EVAL scripts and
    // functions here: its heap is reported as the eval VM's.
    const script::Engine& engine = ctx.dispatcher.scripting().engine();
    const uint64_t lua = engine.lua_memory();
    const uint64_t scripts = engine.scripts_memory();
    const uint64_t functions = engine.functions_memory();
    Line(s, "used_memory_lua", lua);
    Line(s, "used_memory_vm_eval", lua);
    Line(s, "used_memory_lua_human", HumanBytes(lua));
    Line(s, "used_memory_scripts_eval", scripts);
    Line(s, "number_of_cached_scripts", static_cast<uint64_t>(engine.script_count()));
    Line(s, "number_of_functions", static_cast<uint64_t>(engine.function_count()));
    Line(s, "number_of_libraries", static_cast<uint64_t>(engine.libraries().size()));
    Line(s, "used_memory_vm_functions", uint64_t{0});
    Line(s, "used_memory_vm_total", lua);
    Line(s, "used_memory_vm_total_human", HumanBytes(lua));
    Line(s, "used_memory_functions", functions);
    Line(s, "used_memory_scripts", scripts + functions);
    Line(s, "used_memory_scripts_human", HumanBytes(scripts + functions));
  }
  Line(s, "maxmemory", ctx.server.config.maxmemory);
  Line(s, "maxmemory_human", HumanBytes(ctx.server.config.maxmemory));
  Line(s, "maxmemory_policy", ctx.server.config.maxmemory_policy);
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.2f",
                used == 0 ? 0.0 : static_cast<double>(rss) / static_cast<double>(used));
  Line(s, "mem_fragmentation_ratio", std::string(ratio));
  Line(s, "mem_allocator", std::string("libc"));
  Line(s, "lazyfree_pending_objects", static_cast<uint64_t>(store::LazyFreePending()));
  Line(s, "lazyfreed_objects", static_cast<uint64_t>(store::LazyFreed()));
  s->append("\r\n");
}

void InfoPersistence(Context& ctx, std::string* s) {
  s->append("# Persistence\r\n");
  const Persistence& p = ctx.dispatcher.persistence();
  Line(s, "loading", 0);
  Line(s, "rdb_changes_since_last_save", p.changes_since_last_save());
  Line(s, "rdb_bgsave_in_progress", p.bgsave_in_progress() ? 1 : 0);
  Line(s, "rdb_bgsave_scheduled", p.bgsave_scheduled() ? 1 : 0);
  Line(s, "rdb_last_save_time", static_cast<uint64_t>(p.last_save_unix()));
  Line(s, "rdb_last_bgsave_status", std::string(p.last_bgsave_status()));
  Line(s, "rdb_last_save_duration_ms", static_cast<uint64_t>(p.last_save_duration_ms()));
  Line(s, "rdb_current_bgsave_time_sec",
       std::to_string(p.bgsave_in_progress() ? p.child_running_seconds() : -1));
  Line(s, "aof_enabled", p.aof_enabled() ? 1 : 0);
  Line(s, "aof_rewrite_in_progress", p.aof_rewrite_in_progress() ? 1 : 0);
  Line(s, "aof_rewrite_scheduled", p.aof_rewrite_scheduled() ? 1 : 0);
  const int64_t last_rewrite_ms = p.last_rewrite_duration_ms();
  Line(s, "aof_last_rewrite_time_sec",
       std::to_string(last_rewrite_ms < 0 ? -1 : last_rewrite_ms / 1000));
  Line(s, "aof_current_rewrite_time_sec",
       std::to_string(p.aof_rewrite_in_progress() ? p.child_running_seconds() : -1));
  Line(s, "aof_last_bgrewrite_status", std::string(p.last_rewrite_status()));
  Line(s, "aof_rewrites", p.rewrites());
  Line(s, "aof_last_write_status", std::string(p.aof_last_write_ok() ? "ok" : "err"));
  if (p.aof_enabled()) {
    Line(s, "aof_current_size", p.aof_current_size());
    Line(s, "aof_base_size", p.aof_base_size());
  }
  Line(s, "version_counter", ctx.store.counter().last_issued().counter());
  Line(s, "version_high_water_mark", ctx.store.counter().limit());
  s->append("\r\n");
}

void InfoStats(Context& ctx, std::string* s) {
  const ServerStats& st = ctx.server.stats;
  s->append("# Stats\r\n");
  Line(s, "total_connections_received", st.total_connections_received);
  Line(s, "total_commands_processed", st.total_commands_processed);
  Line(s, "instantaneous_ops_per_sec",
       static_cast<uint64_t>(ctx.server.instantaneous.ops_per_sec + 0.5));
  Line(s, "total_net_input_bytes", st.total_net_input_bytes);
  Line(s, "total_net_output_bytes", st.total_net_output_bytes);
  Line(s, "instantaneous_input_kbps", Fixed2(ctx.server.instantaneous.input_kbps));
  Line(s, "instantaneous_output_kbps", Fixed2(ctx.server.instantaneous.output_kbps));
  Line(s, "rejected_connections", st.rejected_connections);
  Line(s, "expired_keys", ctx.store.stats().expired_keys);
  Line(s, "evicted_keys", ctx.store.stats().evicted_keys);
  Line(s, "keyspace_hits", st.keyspace_hits);
  Line(s, "keyspace_misses", st.keyspace_misses);
  const PubSub& pubsub = ctx.dispatcher.pubsub();
  Line(s, "pubsub_channels", pubsub.ChannelCount(false));
  Line(s, "pubsub_patterns", pubsub.PatternCount());
  Line(s, "pubsubshard_channels", pubsub.ChannelCount(true));
  const Tracking& tracking = ctx.dispatcher.tracking();
  Line(s, "tracking_total_keys", tracking.tracked_keys());
  Line(s, "tracking_total_items", tracking.tracked_items());
  Line(s, "tracking_total_prefixes", tracking.prefixes());
  Line(s, "total_error_replies", st.total_error_replies);
  Line(s, "total_reads_processed", st.total_reads_processed);
  Line(s, "total_writes_processed", st.total_writes_processed);
  Line(s, "client_query_buffer_limit_disconnections",
       st.client_query_buffer_limit_disconnections);
  Line(s, "client_output_buffer_limit_disconnections",
       st.client_output_buffer_limit_disconnections);
  s->append("\r\n");
}

void InfoReplication(Context&, std::string* s) {
  s->append("# Replication\r\n");
  Line(s, "role", std::string("master"));
  Line(s, "connected_slaves", 0);
  s->append("\r\n");
}

void InfoCpu(Context&, std::string* s) {
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  char buf[64];
  s->append("# CPU\r\n");
  std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(self.ru_stime.tv_sec),
                static_cast<long>(self.ru_stime.tv_usec));
  Line(s, "used_cpu_sys", std::string(buf));
  std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(self.ru_utime.tv_sec),
                static_cast<long>(self.ru_utime.tv_usec));
  Line(s, "used_cpu_user", std::string(buf));
  s->append("\r\n");
}

// avg_ttl comes from the keyspace survey's last pass (Redis estimates it
// from samples too).
void InfoKeyspace(Context& ctx, std::string* s) {
  const SurveyResult& survey = ctx.dispatcher.survey().last();
  s->append("# Keyspace\r\n");
  for (int i = 0; i < ctx.store.database_count(); ++i) {
    store::Keyspace& db = ctx.store.db(i);
    if (db.size() == 0) continue;
    const auto ttl = survey.avg_ttl_ms.find(i);
    const int64_t avg_ttl = db.expires_count() == 0 || ttl == survey.avg_ttl_ms.end()
                                ? 0
                                : ttl->second;
    s->append("db" + std::to_string(i) + ":keys=" + std::to_string(db.size()) +
              ",expires=" + std::to_string(db.expires_count()) +
              ",avg_ttl=" + std::to_string(avg_ttl) + "\r\n");
  }
  s->append("\r\n");
}

// One line per command that ran or was rejected, as Redis's commandstats.
void InfoCommandstats(Context& ctx, std::string* s) {
  s->append("# Commandstats\r\n");
  auto write = [&](const CommandSpec& spec) {
    const CommandStats& st = ctx.dispatcher.command_stats(spec);
    if (st.calls == 0 && st.rejected_calls == 0 && st.failed_calls == 0) return;
    const double usec = static_cast<double>(st.nsec) / 1000.0;
    const double per_call = st.calls == 0 ? 0.0 : usec / static_cast<double>(st.calls);
    s->append("cmdstat_" + spec.name + ":calls=" + std::to_string(st.calls) +
              ",usec=" + std::to_string(st.nsec / 1000) + ",usec_per_call=" + Fixed2(per_call) +
              ",rejected_calls=" + std::to_string(st.rejected_calls) +
              ",failed_calls=" + std::to_string(st.failed_calls) + "\r\n");
  };
  for (const CommandSpec& spec : ctx.table.all()) {
    write(spec);
    for (const CommandSpec& sub : spec.subcommands) write(sub);
  }
  s->append("\r\n");
}

// Key names are client data: anything but printable ASCII is escaped, so
// that one line stays one line.
std::string PrintableKey(std::string_view key) {
  std::string out;
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\\') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out;
}

// From the keyspace survey's last completed pass (see keyspace_survey.h):
// keys whose writers never merged keep gaining siblings; this is where an
// operator sees them.
void InfoSiblings(Context& ctx, std::string* s) {
  const SurveyResult& survey = ctx.dispatcher.survey().last();
  s->append("# Siblings\r\n");
  Line(s, "keys_with_siblings", survey.keys_with_siblings);
  Line(s, "largest_sibling_count", survey.max_siblings);
  Line(s, "total_siblings", survey.total_siblings);
  Line(s, "keys_at_max_siblings", survey.keys_at_limit);
  if (survey.max_siblings_db >= 0) {
    Line(s, "largest_sibling_db", static_cast<uint64_t>(survey.max_siblings_db));
    Line(s, "largest_sibling_key", PrintableKey(survey.max_siblings_key));
  }
  Line(s, "survey_keys", survey.keys);
  Line(s, "survey_age_ms",
       survey.completed_ms == 0 ? std::string("-1")
                                : std::to_string(ctx.store.now_ms() - survey.completed_ms));
  Line(s, "survey_duration_ms", static_cast<uint64_t>(survey.duration_ms));
  s->append("\r\n");
}

// With peers: the node, each peer link and the cluster's counters
// (cluster::Coordinator::WriteInfo). Empty on a single node.
void InfoPeers(Context& ctx, std::string* s) {
  if (!ctx.server.peers_info) return;
  s->append("# Peers\r\n");
  ctx.server.peers_info(s);
  s->append("\r\n");
}

struct InfoSection {
  const char* name;
  void (*write)(Context&, std::string*);
  bool in_default;
};
constexpr InfoSection kSections[] = {
    {"server", InfoServer, true},           {"clients", InfoClients, true},
    {"memory", InfoMemory, true},           {"persistence", InfoPersistence, true},
    {"stats", InfoStats, true},             {"replication", InfoReplication, true},
    {"cpu", InfoCpu, true},                 {"commandstats", InfoCommandstats, false},
    {"keyspace", InfoKeyspace, true},       {"siblings", InfoSiblings, true},
    {"peers", InfoPeers, true},
};

void Info(Context& ctx) {
  std::vector<bool> wanted(std::size(kSections), false);
  if (ctx.args.size() == 1) {
    for (size_t i = 0; i < std::size(kSections); ++i) wanted[i] = kSections[i].in_default;
  }
  for (size_t a = 1; a < ctx.args.size(); ++a) {
    const std::string_view arg = ctx.args[a];
    const bool everything = EqualsIgnoreCase(arg, "all") || EqualsIgnoreCase(arg, "everything");
    const bool defaults = EqualsIgnoreCase(arg, "default");
    for (size_t i = 0; i < std::size(kSections); ++i) {
      if (everything || (defaults && kSections[i].in_default) ||
          EqualsIgnoreCase(arg, kSections[i].name))
        wanted[i] = true;
    }
  }
  std::string text;
  for (size_t i = 0; i < std::size(kSections); ++i)
    if (wanted[i]) kSections[i].write(ctx, &text);
  // Redis drops the blank line after the last section.
  if (text.size() >= 2) text.resize(text.size() - 2);
  if (ctx.w.protocol() == 3) {
    ctx.w.Verbatim("txt", text);
  } else {
    ctx.w.Bulk(text);
  }
}

void ConfigGet(Context& ctx) {
  std::vector<std::pair<std::string, std::string>> found;
  for (const std::string& name : config::OptionNames()) {
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (util::GlobMatch(ctx.args[i], name, true)) {
        std::string value;
        config::GetOption(ctx.server.config, name, &value);
        found.emplace_back(name, std::move(value));
        break;
      }
    }
  }
  ctx.w.MapHeader(static_cast<int64_t>(found.size()));
  for (const auto& [name, value] : found) {
    ctx.w.Bulk(name);
    ctx.w.Bulk(value);
  }
}

// CONFIG SET name value [name value ...]: all or nothing.
void ConfigSet(Context& ctx) {
  if (ctx.args.size() % 2 != 0) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  config::Config updated = ctx.server.config;
  std::vector<std::string> changed;
  for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
    const std::string name = ToLower(ctx.args[i]);
    if (std::find(changed.begin(), changed.end(), name) != changed.end()) {
      ctx.w.Error("CONFIG SET failed (possibly related to argument '" + name +
                  "') - duplicate parameter");
      return;
    }
    std::string error;
    if (!config::SetOption(&updated, name, {std::string(ctx.args[i + 1])}, true, &error)) {
      ctx.w.Error(error);
      return;
    }
    changed.push_back(name);
  }
  const bool appendonly_changed = updated.appendonly != ctx.server.config.appendonly;
  std::swap(ctx.server.config, updated);  // `updated` now holds the previous config
  if (appendonly_changed) {
    std::string error;
    if (!ctx.dispatcher.persistence().SetAppendOnly(ctx.server.config.appendonly, &error)) {
      // All or nothing, as Redis: the other parameters are not applied either.
      std::swap(ctx.server.config, updated);
      ctx.w.Error("CONFIG SET failed (possibly related to argument 'appendonly') - " + error);
      return;
    }
  }
  ctx.dispatcher.ApplyStoreSettings();
  if (ctx.server.on_config_changed) {
    for (const std::string& name : changed) ctx.server.on_config_changed(name);
  }
  ctx.w.Ok();
}

void CommandHelp(Context& ctx) {
  static const char* const kLines[] = {
      "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "(no subcommand)",
      "    Return details about all commands.",
      "COUNT",
      "    Return the total number of commands in this server.",
      "LIST",
      "    Return a list of all commands in this server.",
      "INFO [<command-name> ...]",
      "    Return details about multiple commands.",
      "DOCS [<command-name> ...]",
      "    Return documentation details about multiple commands.",
      "GETKEYS <full-command>",
      "    Return the keys from a full command.",
      "HELP",
      "    Print this help."};
  WriteHelp(ctx, kLines);
}

void ConfigResetStat(Context& ctx) {
  ctx.server.stats = ServerStats{};
  ctx.dispatcher.ResetCommandStats();
  ctx.w.Ok();
}

// CONFIG REWRITE: the running config back into the file it was loaded from,
// keeping its comments (see config::RewriteConfigText).
void ConfigRewrite(Context& ctx) {
  std::string error;
  if (!config::RewriteConfigFile(ctx.server.config, &error)) {
    spdlog::warn("CONFIG REWRITE failed: {}", error);
    ctx.w.Error(error);
    return;
  }
  spdlog::info("CONFIG REWRITE executed with success.");
  ctx.w.Ok();
}

// SLOWLOG GET [count]: newest first, 10 by default, -1 for all.
void SlowlogGet(Context& ctx) {
  if (ctx.args.size() > 3) {
    ctx.w.Error("unknown subcommand or wrong number of arguments for '" +
                std::string(ctx.args[1]) + "'. Try SLOWLOG HELP.");
    return;
  }
  int64_t count = 10;
  if (ctx.args.size() == 3 && (!ParseInt64(ctx.args[2], &count) || count < -1)) {
    ctx.w.Error("count should be greater than or equal to -1");
    return;
  }
  const auto& entries = ctx.dispatcher.slowlog().entries();
  const size_t n = count == -1 ? entries.size()
                               : std::min(entries.size(), static_cast<size_t>(count));
  ctx.w.ArrayHeader(static_cast<int64_t>(n));
  for (size_t i = 0; i < n; ++i) {
    const SlowLogEntry& e = entries[i];
    ctx.w.ArrayHeader(6);
    ctx.w.Integer(static_cast<int64_t>(e.id));
    ctx.w.Integer(e.unix_time_s);
    ctx.w.Integer(e.duration_us);
    ctx.w.ArrayHeader(static_cast<int64_t>(e.args.size()));
    for (const std::string& arg : e.args) ctx.w.Bulk(arg);
    ctx.w.Bulk(e.client_addr);
    ctx.w.Bulk(e.client_name);
  }
}

void SlowlogLen(Context& ctx) {
  ctx.w.Integer(static_cast<int64_t>(ctx.dispatcher.slowlog().size()));
}

void SlowlogReset(Context& ctx) {
  ctx.dispatcher.slowlog().Reset();
  ctx.w.Ok();
}

void SlowlogHelp(Context& ctx) {
  static const char* const kLines[] = {
      "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET [<count>]",
      "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
      "    Entries are made of:",
      "    id, timestamp, time in microseconds, arguments array, client IP and port,",
      "    client name",
      "LEN",
      "    Return the length of the slowlog.",
      "RESET",
      "    Reset the slowlog.",
      "HELP",
      "    Prints this help."};
  WriteHelp(ctx, kLines);
}

void ConfigHelp(Context& ctx) {
  static const char* const kLines[] = {
      "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET <pattern>",
      "    Return parameters matching the glob-like <pattern> and their values.",
      "SET <directive> <value>",
      "    Set the configuration <directive> to <value>.",
      "RESETSTAT",
      "    Reset statistics reported by the INFO command.",
      "REWRITE",
      "    Rewrite the configuration file.",
      "HELP",
      "    Print this help."};
  WriteHelp(ctx, kLines);
}

void Shutdown(Context& ctx) {
  bool nosave = false, save = false, force = false;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    const std::string_view a = ctx.args[i];
    if (EqualsIgnoreCase(a, "nosave")) {
      nosave = true;
    } else if (EqualsIgnoreCase(a, "save")) {
      save = true;
    } else if (EqualsIgnoreCase(a, "force")) {
      force = true;
    } else if (!EqualsIgnoreCase(a, "now")) {
      ctx.w.Error(err::kSyntax);
      return;
    }
  }
  if (nosave && save) {
    ctx.w.Error(err::kSyntax);
    return;
  }
  // As Redis: a failed final snapshot cancels the shutdown unless FORCE.
  if (!ctx.dispatcher.persistence().SaveOnShutdown(save, nosave) && !force) {
    ctx.w.Error("Errors trying to SHUTDOWN. Check logs.");
    return;
  }
  // Like Redis, a successful SHUTDOWN sends no reply: the connection closes.
  ctx.server.shutdown_requested = true;
  ctx.client.close_after_reply = true;
}

void Time(Context& ctx) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  ctx.w.ArrayHeader(2);
  ctx.w.Bulk(std::to_string(us / 1000000));
  ctx.w.Bulk(std::to_string(us % 1000000));
}

}  // namespace

namespace {

// MONITOR: from now on the client receives every command's line. A second
// MONITOR replies nothing, as in Redis.
void MonitorCmd(Context& ctx) {
  if (ctx.client.monitor) return;
  ctx.dispatcher.monitors().Add(ctx.client);
  ctx.w.Ok();
}

}  // namespace

void RegisterServerCommands(std::vector<CommandSpec>* out) {
  const std::string g = "server";
  auto spec = [&](const char* name, int arity, uint32_t flags, Handler h, const char* since,
                  const char* summary, const char* complexity, const char* args) {
    return CommandSpec{name, arity, flags, 0, 0, 0, h, g, since, summary, complexity, args, {}};
  };
  const uint32_t kInfoFlags = kLoading | kStale;
  CommandSpec command = spec("command", -1, kInfoFlags, Command, "2.8.13",
                             "Returns detailed information about all commands.",
                             "O(N) where N is the total number of Redis commands", "");
  command.subcommands.push_back(spec("command|count", 2, kInfoFlags, CommandCount, "2.8.13",
                                     "Returns a count of commands.", "O(1)", ""));
  command.subcommands.push_back(spec("command|info", -2, kInfoFlags, CommandInfo, "2.8.13",
                                     "Returns information about one, multiple or all "
                                     "commands.",
                                     "O(N) where N is the number of commands to look up",
                                     "[command-name:string...]"));
  command.subcommands.push_back(spec("command|docs", -2, kInfoFlags, CommandDocs, "7.0.0",
                                     "Returns documentary information about one, multiple or "
                                     "all commands.",
                                     "O(N) where N is the number of commands to look up",
                                     "[command-name:string...]"));
  command.subcommands.push_back(spec("command|list", -2, kInfoFlags, CommandList, "7.0.0",
                                     "Returns a list of command names.",
                                     "O(N) where N is the total number of Redis commands",
                                     ""));
  command.subcommands.push_back(spec("command|getkeys", -3, kInfoFlags, CommandGetKeys,
                                     "2.8.13", "Extracts the key names from an arbitrary "
                                     "command.", "O(N) where N is the number of arguments to "
                                     "the command", "command:string arg:string..."));
  command.subcommands.push_back(spec("command|help", 2, kInfoFlags, CommandHelp, "5.0.0",
                                     "Returns helpful text about the different subcommands.",
                                     "O(1)", ""));
  out->push_back(std::move(command));
  out->push_back(spec("monitor", 1, kAdmin | kNoScript | kLoading | kStale, MonitorCmd, "1.0.0",
                      "Listens for all requests received by the server in real-time.", "", ""));
  out->push_back(spec("info", -1, kInfoFlags | kRandom, Info, "1.0.0",
                      "Returns information and statistics about the server.", "O(1)",
                      "[section:string...]"));
  CommandSpec cfg = spec("config", -2, 0, nullptr, "2.0.0",
                         "A container for server configuration commands.",
                         "Depends on subcommand.", "");
  cfg.subcommands.push_back(spec("config|get", -3, kAdmin | kNoScript | kLoading | kStale,
                                 ConfigGet, "2.0.0",
                                 "Returns the effective values of configuration parameters.",
                                 "O(N) when N is the number of configuration parameters "
                                 "provided", "parameter:string..."));
  cfg.subcommands.push_back(spec("config|set", -4, kAdmin | kNoScript | kLoading | kStale,
                                 ConfigSet, "2.0.0",
                                 "Sets configuration parameters in-flight.",
                                 "O(N) when N is the number of configuration parameters "
                                 "provided", "parameter:string... value:string..."));
  cfg.subcommands.push_back(spec("config|resetstat", 2, kAdmin | kNoScript | kLoading | kStale,
                                 ConfigResetStat, "2.0.0", "Resets the server's statistics.",
                                 "O(1)", ""));
  cfg.subcommands.push_back(spec("config|rewrite", 2, kAdmin | kNoScript | kLoading | kStale,
                                 ConfigRewrite, "2.8.0", "Persists the effective configuration "
                                 "to file.", "O(1)", ""));
  cfg.subcommands.push_back(spec("config|help", 2, kLoading | kStale, ConfigHelp, "5.0.0",
                                 "Returns helpful text about the different subcommands.",
                                 "O(1)", ""));
  out->push_back(std::move(cfg));
  out->push_back(spec("shutdown", -1, kAdmin | kNoScript | kLoading | kStale | kNoMulti, Shutdown, "1.0.0",
                      "Synchronously saves the database(s) to disk and shuts down the Redis "
                      "server.", "O(N) when saving, where N is the total number of keys in all "
                      "databases when saving data, otherwise O(1)",
                      "[NOSAVE] [SAVE] [NOW] [FORCE]"));
  out->push_back(spec("time", 1, kLoading | kStale | kFast | kRandom, Time, "2.6.0",
                      "Returns the server time.", "O(1)", ""));
  CommandSpec slowlog = spec("slowlog", -2, 0, nullptr, "2.2.12",
                             "A container for slow log commands.", "Depends on subcommand.", "");
  const uint32_t kSlowlogFlags = kAdmin | kLoading | kStale;
  slowlog.subcommands.push_back(spec("slowlog|get", -2, kSlowlogFlags, SlowlogGet, "2.2.12",
                                     "Returns the slow log's entries.",
                                     "O(N) where N is the number of entries returned",
                                     "[count:integer]"));
  slowlog.subcommands.push_back(spec("slowlog|len", 2, kSlowlogFlags, SlowlogLen, "2.2.12",
                                     "Returns the number of entries in the slow log.", "O(1)",
                                     ""));
  slowlog.subcommands.push_back(spec("slowlog|reset", 2, kSlowlogFlags, SlowlogReset, "2.2.12",
                                     "Clears all entries from the slow log.",
                                     "O(N) where N is the number of entries in the slowlog", ""));
  slowlog.subcommands.push_back(spec("slowlog|help", 2, kLoading | kStale, SlowlogHelp, "6.2.0",
                                     "Show helpful text about the different subcommands",
                                     "O(1)", ""));
  out->push_back(std::move(slowlog));
}

}  // namespace causalkv::command
