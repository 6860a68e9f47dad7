// The command table: one CommandSpec per command (and per subcommand of
// container commands like CONFIG), with what COMMAND INFO/DOCS report.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "causalkv/command/client.h"
#include "causalkv/command/server_state.h"
#include "causalkv/resp/writer.h"
#include "causalkv/store/store.h"

namespace causalkv::command {

class CommandTable;
class Dispatcher;

// Everything a handler may touch while running one command.
struct Context {
  Dispatcher& dispatcher;
  ServerState& server;
  store::Store& store;
  const CommandTable& table;
  ClientState& client;
  resp::Writer& w;
  std::span<const std::string_view> args;

  store::Keyspace& db() { return store.db(client.db); }
};

using Handler = void (*)(Context&);

enum CommandFlag : uint32_t {
  kWrite = 1u << 0,
  kReadOnly = 1u << 1,
  kDenyOom = 1u << 2,
  kAdmin = 1u << 3,
  kFast = 1u << 4,
  kNoAuth = 1u << 5,  // allowed before AUTH
  kLoading = 1u << 6,
  kStale = 1u << 7,
  kNoScript = 1u << 8,
  kRandom = 1u << 9,  // reply is not a function of the data (RANDOMKEY, TIME)
  kTxControl = 1u << 10,  // runs at once inside MULTI instead of being queued
  kSkipSlowlog = 1u << 11,  // never in SLOWLOG (EXEC: its commands are logged)
  kPeerOnly = 1u << 12,  // only on a link authenticated with peer-secret (PEER.HELLO)
  kNoMulti = 1u << 13,  // refused inside MULTI (SAVE, SHUTDOWN), which EXEC then aborts
};

struct CommandSpec {
  std::string name;  // lowercase; "container|sub" for subcommands
  int arity = 0;     // > 0: exact argc; < 0: at least -arity
  uint32_t flags = 0;
  int first_key = 0;
  int last_key = 0;
  int key_step = 0;
  Handler handler = nullptr;
  std::string group;
  std::string since;
  std::string summary;
  std::string complexity;
  // Arguments for COMMAND DOCS in a small notation: `name:type` required,
  // `[...]` optional, trailing `...` repeatable, `TOKEN` a pure token,
  // `TOKEN=name:type` a token followed by a value.
  std::string args_doc;
  std::vector<CommandSpec> subcommands;
  // Index of this command or subcommand among all of them, set by the
  // table: where the dispatcher keeps its statistics.
  size_t id = 0;
  // Blocking commands (BLPOP ...): finds the keys the command waits for and
  // its timeout argument; false when the arguments are malformed (the
  // command then runs and replies with the error). nullptr: never blocks.
  bool (*blocking_args)(std::span<const std::string_view> args,
                        std::vector<std::string_view>* keys,
                        std::string_view* timeout) = nullptr;
  // The timeout is an integer of milliseconds (XREAD's BLOCK), not seconds.
  bool blocking_timeout_ms = false;
  // When set, replaces "all keys missing" as the rule for blocking (XREAD,
  // XREADGROUP): true when the command would find nothing to serve now. It
  // may fill *rewritten with the arguments to keep while waiting (XREAD's
  // `$` resolved to the stream's last ID when the client starts waiting).
  // Its waiters are woken by any write of a key, existing or not.
  bool (*would_block)(store::Keyspace& ks, std::span<const std::string_view> args,
                      std::vector<std::string>* rewritten) = nullptr;
  // Runs once when the client starts waiting, its reply discarded: what
  // Redis 7.2's first run of a blocking command leaves behind (XREADGROUP
  // creates its consumers). Local, like Redis's: not logged; skipped in a
  // cluster, where a version no peer gets would conflict with later writes.
  Handler on_block = nullptr;
  // Key arguments that first_key/last_key/key_step cannot describe (XREAD's
  // keys after STREAMS); used instead of them when set.
  void (*find_keys)(std::span<const std::string_view> args,
                    std::vector<std::string_view>* keys) = nullptr;
};

// A blocking command's timeout, as Redis reads it: seconds, fractions
// allowed, rounded up to milliseconds (0: forever). False with the error
// text Redis gives otherwise (a deadline past INT64_MAX from `now_ms` too).
bool ParseBlockingTimeout(std::string_view arg, int64_t now_ms, int64_t* timeout_ms,
                          const char** error);

// A key a command changes that its key positions do not name: MOVE's key
// in its target database, COPY ... DB n's destination, SORT ... STORE's
// and GEORADIUS[BYMEMBER] ... STORE|STOREDIST's destinations. False when
// there is none. `args` ran without error.
bool ExtraWrittenKey(const CommandSpec& spec, std::span<const std::string_view> args,
                      int client_db, int databases, int* db, std::string_view* key);

// Calls fn(key) for each key argument of a command, by its first_key,
// last_key (negative: from the end) and key_step; none when it has none.
template <typename Fn>
void ForEachKeyArg(const CommandSpec& spec, std::span<const std::string_view> args, Fn&& fn) {
  if (spec.find_keys != nullptr) {
    std::vector<std::string_view> keys;
    spec.find_keys(args, &keys);
    for (std::string_view key : keys) fn(key);
    return;
  }
  if (spec.first_key <= 0 || spec.key_step <= 0) return;
  const int argc = static_cast<int>(args.size());
  const int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < argc; i += spec.key_step) fn(args[i]);
}

class CommandTable {
 public:
  CommandTable();
  // nullptr if unknown. Case-insensitive. Remembers the last name it was
  // asked (so not thread-safe: the loop thread's): one command is looked up
  // by each dispatch stage in turn, and a pipeline repeats one name.
  const CommandSpec* Find(std::string_view name) const;
  // For a container command: the subcommand, or nullptr.
  static const CommandSpec* FindSub(const CommandSpec& container, std::string_view sub);
  const std::vector<CommandSpec>& all() const { return specs_; }
  // Commands plus subcommands: one more than the largest CommandSpec::id.
  size_t id_count() const { return id_count_; }

 private:
  // Names are looked up as they arrive, in any case, without a lowercased
  // copy: every command goes through here, and building and hashing a
  // std::string cost more than the GET it was for. ASCII case folding, as
  // std::tolower in the "C" locale.
  static char Fold(char c) { return static_cast<char>(c + ((c >= 'A' && c <= 'Z') ? 32 : 0)); }
  struct FoldedHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
      for (char c : s) h = (h ^ static_cast<unsigned char>(Fold(c))) * 0x100000001b3ull;
      return static_cast<size_t>(h);
    }
  };
  struct FoldedEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (Fold(a[i]) != Fold(b[i])) return false;
      return true;
    }
  };

  void Add(CommandSpec spec);
  const CommandSpec* FindInIndex(std::string_view name) const;
  std::vector<CommandSpec> specs_;
  // Find's last name, byte for byte (a name longer than any command is
  // never kept), and its answer.
  static constexpr size_t kMaxName = 32;
  mutable char last_name_[kMaxName];
  mutable size_t last_name_size_ = kMaxName + 1;
  mutable const CommandSpec* last_spec_ = nullptr;
  std::unordered_map<std::string, size_t, FoldedHash, FoldedEqual> index_;
  size_t id_count_ = 0;
};

// Each family registers its commands.
void RegisterVersionCommands(std::vector<CommandSpec>* out);
void RegisterStringCommands(std::vector<CommandSpec>* out);
void RegisterHashCommands(std::vector<CommandSpec>* out);
void RegisterSetCommands(std::vector<CommandSpec>* out);
void RegisterListCommands(std::vector<CommandSpec>* out);
void RegisterZsetCommands(std::vector<CommandSpec>* out);
void RegisterStreamCommands(std::vector<CommandSpec>* out);
void RegisterGeoCommands(std::vector<CommandSpec>* out);
void RegisterBitmapCommands(std::vector<CommandSpec>* out);
void RegisterHyperLogLogCommands(std::vector<CommandSpec>* out);
void RegisterSortCommands(std::vector<CommandSpec>* out);
void RegisterKeyspaceCommands(std::vector<CommandSpec>* out);
void RegisterConnectionCommands(std::vector<CommandSpec>* out);
void RegisterServerCommands(std::vector<CommandSpec>* out);
void RegisterTransactionCommands(std::vector<CommandSpec>* out);
void RegisterPubSubCommands(std::vector<CommandSpec>* out);
// CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO, added to CLIENT's subcommands.
void RegisterTrackingSubcommands(CommandSpec* client);
void RegisterPersistenceCommands(std::vector<CommandSpec>* out);
void RegisterPeerCommands(std::vector<CommandSpec>* out);
void RegisterScriptCommands(std::vector<CommandSpec>* out);
void RegisterFunctionCommands(std::vector<CommandSpec>* out);

// Writes the COMMAND INFO entry / COMMAND DOCS entry for one spec.
void WriteCommandInfo(resp::Writer& w, const CommandSpec& spec);
void WriteCommandDocs(resp::Writer& w, const CommandSpec& spec);

}  // namespace causalkv::command
