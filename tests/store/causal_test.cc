// Tests of the dotted-version-vector algebra (issue 11, section 7) against a
// reference model. For one key the model keeps the exact set of dots a state
// has seen ("known") and the set whose values it still holds ("live"); the
// real state keeps a version vector instead of the known set. Random
// histories (writes, blind writes, deletes, syncs, stale copies) check after
// every step that the two agree, which is the soundness claim of causal.h:
// with server-wide counters, "covered by the context" is exactly "seen".
// They also check that Sync is a join (idempotent, commutative,
// associative), and the bounds on siblings and context size.
#include "causalkv/store/causal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace causalkv::store {
namespace {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Print(const Dot& dot) { return Hex(dot.actor) + ":" + std::to_string(dot.counter); }

// "{a:3 b:2} [b:2]eggs [a:3]milk,flour ttl=100@a:4"
std::string Print(const KeyState& state) {
  std::string out = "{";
  for (const auto& [actor, counter] : state.context.entries()) {
    if (out.size() > 1) out += " ";
    out += Hex(actor) + ":" + std::to_string(counter);
  }
  out += "}";
  for (const SiblingValue& s : state.siblings) out += " [" + Print(s.dot) + "]" + s.value;
  if (state.expire_at_ms != KeyState::kNoExpire || !(state.ttl_stamp == Dot{})) {
    out += " ttl=" + std::to_string(state.expire_at_ms) + "@" + Print(state.ttl_stamp);
  }
  return out;
}

std::string Print(const std::set<Dot>& dots) {
  std::string out = "{";
  for (const Dot& d : dots) out += (out.size() > 1 ? " " : "") + Print(d);
  return out + "}";
}

// The invariants of causal.h, checked here independently of Valid().
bool HoldsInvariants(const KeyState& state) {
  const auto& entries = state.context.entries();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].first == 0 || entries[i].second == 0) return false;
    if (i > 0 && entries[i - 1].first >= entries[i].first) return false;
  }
  for (size_t i = 0; i < state.siblings.size(); ++i) {
    const Dot& d = state.siblings[i].dot;
    if (d.counter == 0 || d.counter > state.context.Get(d.actor)) return false;
    if (i > 0 && std::pair(state.siblings[i - 1].dot.counter, state.siblings[i - 1].dot.actor) >=
                     std::pair(d.counter, d.actor)) {
      return false;
    }
  }
  return state.expire_at_ms >= KeyState::kNoExpire;
}

// --- The reference model: sets of dots, one rule per line of the spec ---

struct ModelState {
  std::set<Dot> known;              // every dot this state has seen
  std::map<Dot, std::string> live;  // the dots whose values it holds
  Dot ttl_stamp;
  int64_t expire_at_ms = KeyState::kNoExpire;
};

bool TtlLess(const Dot& stamp_a, int64_t expire_a, const Dot& stamp_b, int64_t expire_b) {
  return std::pair(std::pair(stamp_a.counter, stamp_a.actor), expire_a) <
         std::pair(std::pair(stamp_b.counter, stamp_b.actor), expire_b);
}

ModelState ModelSync(const ModelState& a, const ModelState& b) {
  ModelState out;
  out.known = a.known;
  out.known.insert(b.known.begin(), b.known.end());
  std::set<Dot> dead;
  for (const Dot& d : a.known) {
    if (!a.live.contains(d)) dead.insert(d);
  }
  for (const Dot& d : b.known) {
    if (!b.live.contains(d)) dead.insert(d);
  }
  for (const auto* side : {&a, &b}) {
    for (const auto& [d, value] : side->live) {
      if (!dead.contains(d)) out.live.emplace(d, value);
    }
  }
  const ModelState& ttl = TtlLess(a.ttl_stamp, a.expire_at_ms, b.ttl_stamp, b.expire_at_ms) ? b : a;
  out.ttl_stamp = ttl.ttl_stamp;
  out.expire_at_ms = ttl.expire_at_ms;
  return out;
}

// A write (or, with a null value, a delete) by a client whose read had seen
// the dots `seen`.
void ModelWrite(ModelState* state, const std::set<Dot>& seen, const Dot& dot,
                const std::string* value) {
  for (const Dot& d : seen) {
    state->live.erase(d);
    state->known.insert(d);
  }
  if (value == nullptr) return;
  state->known.insert(dot);
  state->live[dot] = *value;
}

// A replica's state, real and modelled side by side.
struct Replica {
  KeyState real;
  ModelState model;
};

Replica SyncReplicas(const Replica& a, const Replica& b) {
  return Replica{Sync(a.real, b.real), ModelSync(a.model, b.model)};
}

// The real state holds exactly the model's live dots and values, its context
// covers exactly the model's known dots among those ever issued, and the TTL
// agrees.
AssertionResult Agrees(const Replica& r, const std::vector<Dot>& issued) {
  if (!Valid(r.real) || !HoldsInvariants(r.real)) {
    return AssertionFailure() << "invalid: " << Print(r.real);
  }
  std::vector<SiblingValue> want;
  for (const auto& [d, value] : r.model.live) want.push_back(SiblingValue{d, value});
  if (r.real.siblings != want) {
    std::string model;
    for (const SiblingValue& s : want) model += " [" + Print(s.dot) + "]" + s.value;
    return AssertionFailure() << "siblings differ: real " << Print(r.real) << " model" << model;
  }
  for (const Dot& d : issued) {
    if (r.real.context.Covers(d) != r.model.known.contains(d)) {
      return AssertionFailure() << "context " << Print(r.real)
                                << (r.model.known.contains(d) ? " misses " : " covers unseen ")
                                << Print(d) << "; model known " << Print(r.model.known);
    }
  }
  if (!(r.real.ttl_stamp == r.model.ttl_stamp) || r.real.expire_at_ms != r.model.expire_at_ms) {
    return AssertionFailure() << "ttl differs: real " << Print(r.real) << " model "
                              << r.model.expire_at_ms << "@" << Print(r.model.ttl_stamp);
  }
  return AssertionSuccess();
}

// Sync is a join, and Includes is "merging changes nothing"; the merge also
// agrees with the model's.
AssertionResult AlgebraHolds(const Replica& a, const Replica& b, const Replica& c,
                             const std::vector<Dot>& issued) {
  const KeyState ab = Sync(a.real, b.real);
  if (Sync(a.real, a.real) != a.real) {
    return AssertionFailure() << "not idempotent: " << Print(a.real);
  }
  if (ab != Sync(b.real, a.real)) {
    return AssertionFailure() << "not commutative: " << Print(a.real) << " / " << Print(b.real);
  }
  if (Sync(ab, c.real) != Sync(a.real, Sync(b.real, c.real))) {
    return AssertionFailure() << "not associative: " << Print(a.real) << " / " << Print(b.real)
                              << " / " << Print(c.real);
  }
  if (Includes(a.real, b.real) != (ab == a.real)) {
    return AssertionFailure() << "Includes() is " << Includes(a.real, b.real) << " for "
                              << Print(a.real) << " / " << Print(b.real);
  }
  if (AssertionResult r = Agrees(Replica{ab, ModelSync(a.model, b.model)}, issued); !r) {
    return AssertionFailure() << "Sync(" << Print(a.real) << ", " << Print(b.real)
                              << "): " << r.message();
  }
  return AssertionSuccess();
}

// --- Random histories ---

struct HistoryOptions {
  int steps = 60;
  // Each client reads only states holding its own last write (a session
  // guarantee): then each client is one writer for the sibling bound.
  bool read_your_writes = false;
};

struct HistoryStats {
  size_t max_siblings = 0;
  size_t max_bound = 0;             // the bound at the step max_siblings was seen
  bool bound_reached = false;       // some step had exactly as many siblings as allowed
  size_t covering_writes = 0;       // writes whose context covered every dot of the node
  size_t concurrent_survivors = 0;  // dots live at the end of a history with others
};

class History {
 public:
  History(uint64_t seed, HistoryOptions options) : rng_(seed), options_(options) {
    const int n = 3 + Uniform(3);
    std::set<ActorId> ids;
    while (ids.size() < static_cast<size_t>(n)) ids.insert(1 + rng_() % 0xffffffffffffull);
    actors_.assign(ids.begin(), ids.end());
    std::shuffle(actors_.begin(), actors_.end(), rng_);
    for (int i = 0; i < n; ++i) clocks_.push_back(1 + rng_() % 1000000);
    nodes_.resize(n);
    clients_.resize(2 + Uniform(3));
  }

  // Runs the history, checking every step. `states` (optional) receives the
  // states seen, for other tests to use.
  AssertionResult Run(HistoryStats* stats, std::vector<KeyState>* states = nullptr) {
    for (int step = 0; step < options_.steps; ++step) {
      if (AssertionResult r = Step(stats); !r)
        return AssertionFailure() << "step " << step << ": " << r.message();
      if (states != nullptr && Uniform(4) == 0)
        states->push_back(nodes_[Uniform(nodes_.size())].real);
    }
    if (AssertionResult r = Converge(stats); !r)
      return AssertionFailure() << "converge: " << r.message();
    if (states != nullptr) states->push_back(nodes_[0].real);
    return AssertionSuccess();
  }

 private:
  struct Client {
    bool has_read = false;
    VersionVector context;
    std::set<Dot> seen;               // the model's known set of the state read
    std::vector<std::string> values;  // what the read returned
    std::optional<Dot> last_write;
    size_t last_node = 0;  // the node last written through
    size_t chains = 0;     // runs of writes in which each write's read saw the one before
  };

  size_t Uniform(size_t n) { return static_cast<size_t>(rng_() % n); }

  Dot NewDot(size_t node) {
    clocks_[node] += 1 + Uniform(Uniform(2) == 0 ? 3 : 100000);  // other keys' writes
    return Dot{actors_[node], clocks_[node]};
  }

  void Read(Client* c, size_t node) {
    c->has_read = true;
    c->context = nodes_[node].real.context;
    c->seen = nodes_[node].model.known;
    c->values.clear();
    for (const SiblingValue& s : nodes_[node].real.siblings) c->values.push_back(s.value);
  }

  // A write through `node` with the client's context (blind: no client).
  AssertionResult Write(Client* c, size_t client_index, size_t node, bool del,
                        HistoryStats* stats) {
    static const std::set<Dot> kNothing;
    const VersionVector blind;
    const VersionVector& context = c != nullptr ? c->context : blind;
    const std::set<Dot>& seen = c != nullptr ? c->seen : kNothing;
    Replica& r = nodes_[node];
    const size_t expected = SiblingsAfterWrite(r.real, context) - (del ? 1 : 0);
    bool covers_all = true;
    for (const auto& [d, value] : r.model.live) covers_all = covers_all && seen.contains(d);
    overwritten_.insert(seen.begin(), seen.end());
    Dot dot;
    std::string value;
    if (!del) {
      dot = NewDot(node);
      issued_.push_back(dot);
      value = c != nullptr
                  ? "c" + std::to_string(client_index) + "." + std::to_string(dot.counter) + "/" +
                        std::to_string(c->values.size())
                  : "blind." + std::to_string(dot.counter);
      owner_[dot] = c != nullptr ? static_cast<int>(client_index) : -1;
    }
    ApplyWrite(&r.real, context, dot, del ? nullptr : &value);
    ModelWrite(&r.model, seen, dot, del ? nullptr : &value);
    if (r.real.siblings.size() != expected) {
      return AssertionFailure() << "SiblingsAfterWrite said " << expected << ", ApplyWrite left "
                                << Print(r.real);
    }
    if (!del && covers_all) {
      ++stats->covering_writes;
      if (r.real.siblings.size() != 1) {
        return AssertionFailure() << "a write covering every dot left " << Print(r.real);
      }
    }
    if (c != nullptr && !del) {
      if (!c->last_write || !seen.contains(*c->last_write)) ++c->chains;
      c->last_write = dot;
      c->last_node = node;
      // The reply to a write is the coordinator's new state: a client may
      // carry on from it, as the seed's clients do. With read-your-writes it
      // must (its old read does not hold the write it just made).
      if (options_.read_your_writes || Uniform(2) == 0) Read(c, node);
    }
    return AssertionSuccess();
  }

  AssertionResult Step(HistoryStats* stats) {
    const size_t n = nodes_.size();
    const size_t i = Uniform(n);
    size_t j = Uniform(n);
    const size_t ci = Uniform(clients_.size());
    Client& c = clients_[ci];
    switch (Uniform(10)) {
      case 0:
      case 1:  // a read
        if (options_.read_your_writes && c.last_write &&
            !nodes_[i].model.known.contains(*c.last_write)) {
          nodes_[i] = SyncReplicas(nodes_[i], nodes_[c.last_node]);
        }
        Read(&c, i);
        break;
      case 2:
      case 3:  // a read-merge-write
        if (!c.has_read) Read(&c, i);
        if (AssertionResult r = Write(&c, ci, j, false, stats); !r) return r;
        break;
      case 4:  // a blind write
        ++blind_writes_;
        if (AssertionResult r = Write(nullptr, 0, j, false, stats); !r) return r;
        break;
      case 5:  // a delete, now and then a blind one
        if (!c.has_read || Uniform(4) == 0) {
          if (AssertionResult r = Write(nullptr, 0, j, true, stats); !r) return r;
        } else if (AssertionResult r = Write(&c, ci, j, true, stats); !r) {
          return r;
        }
        break;
      case 6:  // one way
        nodes_[i] = SyncReplicas(nodes_[i], nodes_[j]);
        break;
      case 7: {  // both ways
        const Replica merged = SyncReplicas(nodes_[i], nodes_[j]);
        nodes_[j] = SyncReplicas(nodes_[j], nodes_[i]);
        nodes_[i] = merged;
        if (nodes_[i].real != nodes_[j].real) {
          return AssertionFailure() << "sync both ways differs: " << Print(nodes_[i].real) << " / "
                                    << Print(nodes_[j].real);
        }
        break;
      }
      case 8:  // a stale copy arrives late (a slow repair, a hint)
        if (!stale_.empty()) nodes_[i] = SyncReplicas(nodes_[i], stale_[Uniform(stale_.size())]);
        break;
      case 9: {  // a TTL set through node i
        const Dot stamp = NewDot(i);
        const int64_t at =
            Uniform(3) == 0 ? KeyState::kNoExpire : static_cast<int64_t>(Uniform(1000));
        nodes_[i].real.ttl_stamp = nodes_[i].model.ttl_stamp = stamp;
        nodes_[i].real.expire_at_ms = nodes_[i].model.expire_at_ms = at;
        break;
      }
    }
    if (Uniform(3) == 0) {
      if (stale_.size() < 24) {
        stale_.push_back(nodes_[Uniform(n)]);
      } else {
        stale_[Uniform(stale_.size())] = nodes_[Uniform(n)];
      }
    }
    return CheckNodes({i, j}, stats);
  }

  // Checks the nodes a step may have changed.
  AssertionResult CheckNodes(std::initializer_list<size_t> changed, HistoryStats* stats) {
    size_t bound = blind_writes_;
    for (const Client& c : clients_) bound += c.chains;
    if (options_.read_your_writes && bound > clients_.size() + blind_writes_) {
      return AssertionFailure() << "a read-your-writes client broke its chain";
    }
    for (size_t node : changed) {
      const Replica& r = nodes_[node];
      if (AssertionResult res = Agrees(r, issued_); !res) return res;
      if (r.real.context.size() > nodes_.size()) {
        return AssertionFailure() << "context larger than the cluster: " << Print(r.real);
      }
      // Siblings: at most one per writer, a writer being a client's run of
      // writes each made on a read that saw the one before, or a blind write.
      const size_t siblings = r.real.siblings.size();
      if (siblings > bound) {
        return AssertionFailure() << siblings << " siblings, bound " << bound << ": "
                                  << Print(r.real);
      }
      std::vector<size_t> per_client(clients_.size());
      for (const SiblingValue& s : r.real.siblings) {
        if (owner_[s.dot] >= 0) ++per_client[owner_[s.dot]];
      }
      for (size_t k = 0; k < clients_.size(); ++k) {
        if (per_client[k] > clients_[k].chains) {
          return AssertionFailure() << "client " << k << " has " << per_client[k] << " siblings in "
                                    << clients_[k].chains << " chains: " << Print(r.real);
        }
      }
      if (siblings > stats->max_siblings) {
        stats->max_siblings = siblings;
        stats->max_bound = bound;
      }
      if (siblings > 0 && siblings == bound) stats->bound_reached = true;
    }
    // A random triple of the states seen so far.
    const Replica& a = Pick();
    const Replica& b = Pick();
    const Replica& c = Pick();
    return AlgebraHolds(a, b, c, issued_);
  }

  const Replica& Pick() {
    const size_t k = Uniform(nodes_.size() + stale_.size());
    return k < nodes_.size() ? nodes_[k] : stale_[k - nodes_.size()];
  }

  // Every node syncs with every other until nothing changes.
  AssertionResult Converge(HistoryStats* stats) {
    const size_t n = nodes_.size();
    for (size_t k = 0; k < stale_.size(); k += 3)
      nodes_[k % n] = SyncReplicas(nodes_[k % n], stale_[k]);
    for (int round = 0;; ++round) {
      if (round > 3) return AssertionFailure() << "no fixed point after 3 rounds";
      bool changed = false;
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) {
          if (Includes(nodes_[i].real, nodes_[j].real)) continue;
          changed = true;
          nodes_[i] = SyncReplicas(nodes_[i], nodes_[j]);
          if (AssertionResult r = Agrees(nodes_[i], issued_); !r) return r;
        }
      }
      if (!changed) break;
    }
    for (size_t i = 1; i < n; ++i) {
      if (nodes_[i].real != nodes_[0].real) {
        return AssertionFailure() << "not converged: " << Print(nodes_[0].real) << " / "
                                  << Print(nodes_[i].real);
      }
    }
    // Concurrency detected exactly: a dot survives iff no write or delete was
    // made on a read that had seen it.
    std::vector<Dot> survivors;
    for (const Dot& d : issued_) {
      if (!overwritten_.contains(d)) survivors.push_back(d);
    }
    std::sort(survivors.begin(), survivors.end());
    std::vector<Dot> live;
    for (const SiblingValue& s : nodes_[0].real.siblings) live.push_back(s.dot);
    if (live != survivors) {
      return AssertionFailure() << "live dots are not the un-overwritten ones: "
                                << Print(nodes_[0].real);
    }
    if (live.size() > 1) stats->concurrent_survivors += live.size();
    // No false siblings: a read-merge-write on the converged state leaves one.
    Client c;
    Read(&c, Uniform(n));
    const size_t node = Uniform(n);
    if (AssertionResult r = Write(&c, clients_.size(), node, false, stats); !r) return r;
    for (size_t i = 0; i < n; ++i) {
      nodes_[i] = SyncReplicas(nodes_[i], nodes_[node]);
      if (nodes_[i].real.siblings.size() != 1 || nodes_[i].real != nodes_[node].real) {
        return AssertionFailure() << "after a covering write: " << Print(nodes_[i].real);
      }
    }
    return AssertionSuccess();
  }

  std::mt19937_64 rng_;
  const HistoryOptions options_;
  std::vector<ActorId> actors_;
  std::vector<uint64_t> clocks_;  // each node's server-wide counter
  std::vector<Replica> nodes_;
  std::vector<Replica> stale_;  // old copies of node states
  std::vector<Client> clients_;
  std::vector<Dot> issued_;    // every sibling dot made, in order
  std::map<Dot, int> owner_;   // dot -> client, -1 for a blind write
  std::set<Dot> overwritten_;  // dots some write's or delete's read had seen
  size_t blind_writes_ = 0;
};

TEST(CausalHistory, MatchesModelOverRandomSeeds) {
  HistoryStats stats;
  for (uint64_t seed = 1; seed <= 800; ++seed) {
    History history(seed, HistoryOptions{});
    ASSERT_TRUE(history.Run(&stats)) << "seed " << seed;
  }
  // The histories did reach the interesting cases.
  EXPECT_GE(stats.max_siblings, 4u);
  EXPECT_GT(stats.covering_writes, 1000u);
  EXPECT_GT(stats.concurrent_survivors, 100u);
  EXPECT_TRUE(stats.bound_reached);
}

// With read-your-writes sessions each client is one writer, so a state never
// holds more than (clients + blind writes) siblings, however many writes were
// made; and that bound is reached (it is exact, not loose).
TEST(CausalHistory, SiblingsBoundedByWriters) {
  HistoryStats stats;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    History history(seed, HistoryOptions{.steps = 60, .read_your_writes = true});
    ASSERT_TRUE(history.Run(&stats)) << "seed " << seed;
  }
  EXPECT_TRUE(stats.bound_reached);
  EXPECT_GE(stats.max_siblings, 3u);
}

// --- Targeted scenarios ---

constexpr ActorId kNodeA = 0xa;
constexpr ActorId kNodeB = 0xb;

std::vector<std::string> Values(const KeyState& state) {
  std::vector<std::string> out;
  for (const SiblingValue& s : state.siblings) out.push_back(s.value);
  return out;
}

std::set<std::string> Items(const std::string& value) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    const size_t comma = std::min(value.find(',', start), value.size());
    out.insert(value.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// The seed (DDIA figure 5-13): client 1 writes through node A, client 2
// through node B, the nodes converging between steps. Each client writes the
// union of what it last got back plus one item, with the context it got back.
TEST(CausalCart, SeedScenarioThroughTwoNodes) {
  struct CartStep {
    int client;
    const char* value;  // the seed's value
    const char* item;   // the one the client adds
    const char* state;  // both nodes after they converge
  };
  const CartStep kSteps[] = {
      {1, "milk", "milk", "{a:1} [a:1]milk"},
      {2, "eggs", "eggs", "{a:1 b:2} [a:1]milk [b:2]eggs"},
      {1, "milk,flour", "flour", "{a:3 b:2} [b:2]eggs [a:3]milk,flour"},
      {2, "eggs,milk,ham", "ham", "{a:3 b:4} [a:3]milk,flour [b:4]eggs,milk,ham"},
      {1, "milk,flour,eggs,bacon", "bacon",
       "{a:5 b:4} [b:4]eggs,milk,ham [a:5]milk,flour,eggs,bacon"},
  };
  KeyState node[2];
  VersionVector context[2];         // each client's context: "0" at first
  std::vector<std::string> got[2];  // the values each client last got back
  uint64_t clock = 0;
  for (const CartStep& step : kSteps) {
    SCOPED_TRACE(step.value);
    const int k = step.client - 1;  // client 1 uses node A, client 2 node B
    std::set<std::string> want;
    for (const std::string& v : got[k]) {
      for (const std::string& item : Items(v)) want.insert(item);
    }
    want.insert(step.item);
    ASSERT_EQ(Items(step.value), want);
    const std::string value = step.value;
    ApplyWrite(&node[k], context[k], Dot{k == 0 ? kNodeA : kNodeB, ++clock}, &value);
    context[k] = node[k].context;  // the reply
    got[k] = Values(node[k]);
    const KeyState a = Sync(node[0], node[1]);
    node[1] = Sync(node[1], node[0]);
    node[0] = a;
    EXPECT_EQ(Print(node[0]), step.state);
    EXPECT_EQ(Print(node[1]), step.state);
  }
}

// Concurrent writes through different nodes both survive; a client that
// merges what it read and writes back leaves one sibling.
TEST(CausalCart, ConcurrentWritesBecomeSiblingsAndMergeToOne) {
  KeyState a, b;
  const std::string x = "x", y = "y", xy = "x,y";
  ApplyWrite(&a, VersionVector(), Dot{kNodeA, 10}, &x);
  ApplyWrite(&b, VersionVector(), Dot{kNodeB, 7}, &y);
  const KeyState merged = Sync(a, b);
  EXPECT_EQ(Print(merged), "{a:10 b:7} [b:7]y [a:10]x");
  KeyState stale_b = b;
  b = merged;
  ApplyWrite(&b, merged.context, Dot{kNodeB, 12}, &xy);
  EXPECT_EQ(Print(b), "{a:10 b:12} [b:12]x,y");
  EXPECT_EQ(Print(Sync(a, b)), "{a:10 b:12} [b:12]x,y");
  EXPECT_EQ(Print(Sync(stale_b, b)), "{a:10 b:12} [b:12]x,y");
  EXPECT_TRUE(Includes(b, a));
  EXPECT_TRUE(Includes(b, stale_b));
  EXPECT_FALSE(Includes(a, b));
}

// A client whose read does not hold its own last write is two writers: the
// per-writer sibling bound needs read-your-writes.
TEST(CausalCart, StaleReadMakesOneClientTwoWriters) {
  KeyState a, b;
  const std::string v1 = "v1", v2 = "v2";
  ApplyWrite(&a, VersionVector(), Dot{kNodeA, 1}, &v1);
  const VersionVector stale = b.context;  // the client then reads B, not yet synced
  ApplyWrite(&b, stale, Dot{kNodeB, 2}, &v2);
  EXPECT_EQ(Print(Sync(a, b)), "{a:1 b:2} [a:1]v1 [b:2]v2");
}

// A write concurrent with a delete survives as the only sibling; a deleted
// value does not come back from a stale copy.
TEST(CausalTombstone, ConcurrentWriteSurvivesDelete) {
  const std::string v = "v", w = "w";
  KeyState a;
  ApplyWrite(&a, VersionVector(), Dot{kNodeA, 1}, &v);
  KeyState b = a;
  const VersionVector read = a.context;  // both clients read {a:1}
  ApplyWrite(&a, read, Dot{kNodeA, 2}, nullptr);
  EXPECT_TRUE(a.tombstone());
  EXPECT_EQ(Print(a), "{a:1}");
  const KeyState stale_b = b;
  ApplyWrite(&b, read, Dot{kNodeB, 3}, &w);
  EXPECT_EQ(Print(Sync(a, b)), "{a:1 b:3} [b:3]w");
  EXPECT_EQ(Print(Sync(b, a)), "{a:1 b:3} [b:3]w");
  EXPECT_EQ(Print(Sync(a, stale_b)), "{a:1}");
  EXPECT_EQ(Print(Sync(stale_b, a)), "{a:1}");
  EXPECT_TRUE(Includes(a, stale_b));
  EXPECT_FALSE(Includes(stale_b, a));
  // A delete that saw everything leaves a tombstone everywhere.
  KeyState c = Sync(a, b);
  ApplyWrite(&c, c.context, Dot{kNodeA, 4}, nullptr);
  EXPECT_EQ(Print(Sync(c, b)), "{a:1 b:3}");
  EXPECT_EQ(Print(Sync(stale_b, c)), "{a:1 b:3}");
  EXPECT_EQ(SiblingsAfterWrite(Sync(a, b), read), 2u);
  EXPECT_EQ(SiblingsAfterWrite(Sync(a, b), Sync(a, b).context), 1u);
}

TEST(CausalValid, RejectsBrokenInvariants) {
  const std::string v = "v";
  KeyState good;
  ApplyWrite(&good, VersionVector(), Dot{kNodeA, 3}, &v);
  ApplyWrite(&good, VersionVector(), Dot{kNodeB, 4}, &v);
  ASSERT_TRUE(Valid(good)) << Print(good);
  ASSERT_TRUE(Valid(KeyState()));
  std::vector<std::pair<const char*, KeyState>> broken;
  KeyState s = good;
  std::swap(s.siblings[0], s.siblings[1]);
  broken.emplace_back("unsorted siblings", s);
  s = good;
  s.siblings[1].dot = s.siblings[0].dot;
  broken.emplace_back("repeated dot", s);
  s = good;
  s.siblings[1].dot.counter = 5;
  broken.emplace_back("sibling not covered", s);
  s = good;
  s.siblings[0].dot.counter = 0;
  broken.emplace_back("zero counter", s);
  s = good;
  s.context = VersionVector({{kNodeB, 4}, {kNodeA, 3}});
  broken.emplace_back("unsorted context", s);
  s = good;
  s.context = VersionVector({{kNodeA, 3}, {kNodeB, 4}, {kNodeB + 1, 0}});
  broken.emplace_back("zero context entry", s);
  s = good;
  s.expire_at_ms = -2;
  broken.emplace_back("negative expiry", s);
  for (const auto& [name, state] : broken) {
    EXPECT_FALSE(Valid(state)) << name << ": " << Print(state);
    EXPECT_FALSE(HoldsInvariants(state)) << name;
  }
}

// The soundness precondition of causal.h: a node writes a key only on a
// state holding all of its own earlier dots for it. A node that forgot the
// key (evicted it, dropped it as expired, collected its tombstone) and then
// takes a blind write makes a context covering its own earlier, replicated
// write, so the merge drops that write everywhere although no client saw it.
// The algebra cannot catch this; the keyspace must not write on such a state.
TEST(CausalSoundness, WriteOnAStateMissingTheNodesOwnDotsDropsThem) {
  const std::string v = "v", w = "w";
  KeyState a;
  ApplyWrite(&a, VersionVector(), Dot{kNodeA, 5}, &v);
  const KeyState b = a;  // replicated to B
  KeyState kept = a;
  ApplyWrite(&kept, VersionVector(), Dot{kNodeA, 9}, &w);
  EXPECT_EQ(Print(Sync(kept, b)), "{a:9} [a:5]v [a:9]w");
  KeyState forgotten;
  ApplyWrite(&forgotten, VersionVector(), Dot{kNodeA, 9}, &w);
  EXPECT_EQ(Print(Sync(forgotten, b)), "{a:9} [a:9]w");
}

// The TTL is a last-writer-wins register over (stamp, expire_at_ms): its
// merge is commutative and associative, the highest stamp wins and an unset
// stamp loses to any.
TEST(CausalTtl, LastWriterWinsMergeIsAJoin) {
  std::mt19937_64 rng(7);
  std::vector<KeyState> states(1);  // the first: never set
  for (int i = 0; i < 40; ++i) {
    KeyState s;
    s.ttl_stamp = Dot{1 + rng() % 3, 1 + rng() % 4};  // many equal stamps
    s.expire_at_ms = rng() % 4 == 0 ? KeyState::kNoExpire : static_cast<int64_t>(rng() % 5);
    states.push_back(s);
  }
  for (const KeyState& a : states) {
    EXPECT_EQ(Print(Sync(a, states[0])), Print(a));
    for (const KeyState& b : states) {
      const KeyState ab = Sync(a, b);
      ASSERT_EQ(Print(ab), Print(Sync(b, a)));
      const KeyState& want =
          TtlLess(a.ttl_stamp, a.expire_at_ms, b.ttl_stamp, b.expire_at_ms) ? b : a;
      EXPECT_EQ(Print(ab.ttl_stamp), Print(want.ttl_stamp));
      EXPECT_EQ(ab.expire_at_ms, want.expire_at_ms);
      EXPECT_EQ(Includes(a, b), ab == a);
      for (int k = 0; k < 5; ++k) {
        const KeyState& c = states[rng() % states.size()];
        ASSERT_EQ(Print(Sync(ab, c)), Print(Sync(a, Sync(b, c))));
      }
    }
  }
}

uint64_t Lookup(const std::map<ActorId, uint64_t>& m, ActorId actor) {
  auto it = m.find(actor);
  return it == m.end() ? 0 : it->second;
}

TEST(CausalVersionVector, MatchesAMap) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 300; ++round) {
    VersionVector v, w;
    std::map<ActorId, uint64_t> mv, mw;
    for (int k = 0; k < 20; ++k) {
      const ActorId actor = 1 + rng() % 8;
      const uint64_t counter = rng() % 10;
      VersionVector* vv = rng() % 2 == 0 ? &v : &w;
      std::map<ActorId, uint64_t>* mm = vv == &v ? &mv : &mw;
      vv->Advance(actor, counter);
      if (counter > 0) (*mm)[actor] = std::max(Lookup(*mm, actor), counter);
    }
    ASSERT_EQ(v.entries(), std::vector<VersionVector::Entry>(mv.begin(), mv.end()));
    bool descends = true;
    for (const auto& [actor, counter] : mw) descends = descends && Lookup(mv, actor) >= counter;
    EXPECT_EQ(v.Descends(w), descends);
    for (ActorId actor = 0; actor < 10; ++actor) {
      EXPECT_EQ(v.Get(actor), Lookup(mv, actor));
      EXPECT_TRUE(v.Covers(Dot{actor, Lookup(mv, actor)}));
      EXPECT_FALSE(v.Covers(Dot{actor, Lookup(mv, actor) + 1}));
    }
    for (const auto& [actor, counter] : mw) mv[actor] = std::max(Lookup(mv, actor), counter);
    v.Join(w);
    EXPECT_EQ(v.entries(), std::vector<VersionVector::Entry>(mv.begin(), mv.end()));
    EXPECT_TRUE(v.Descends(w));
  }
}

TEST(CausalFormat, Dot) {
  EXPECT_EQ(FormatDot(Dot{0xa, 5}), "000000000000000a:5");
  EXPECT_EQ(FormatDot(Dot{~0ull, ~0ull}), "ffffffffffffffff:18446744073709551615");
}

// --- Context tokens ---

// The token's layout, written again from causal.cc to craft tokens that
// pass the checksum but are otherwise malformed.
void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

std::string Base64Url(std::string_view in) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = 0;
    const size_t len = std::min<size_t>(3, in.size() - i);
    for (size_t k = 0; k < 3; ++k) n = (n << 8) | (k < len ? static_cast<uint8_t>(in[i + k]) : 0);
    for (size_t k = 0; k <= len; ++k) out.push_back(kChars[(n >> (18 - 6 * k)) & 63]);
  }
  return out;
}

// Appends the FNV-1a checksum and encodes.
std::string Seal(std::string body) {
  uint32_t h = 2166136261u;
  for (char c : body) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>(h >> (8 * i)));
  return Base64Url(body);
}

std::string TokenBody(const std::vector<VersionVector::Entry>& entries) {
  std::string body(1, '\x01');
  PutVarint(&body, entries.size());
  for (const auto& [actor, counter] : entries) {
    PutFixed64(&body, actor);
    PutVarint(&body, counter);
  }
  return body;
}

VersionVector RandomVector(std::mt19937_64& rng, size_t max_size) {
  VersionVector v;
  const size_t n = rng() % (max_size + 1);
  for (size_t i = 0; i < n; ++i) {
    const ActorId actor = rng() % 3 == 0 ? 1 + rng() % 16 : rng() | 1;
    const int shift = static_cast<int>(rng() % 64);
    v.Advance(actor, std::max<uint64_t>(1, rng() >> shift));
  }
  return v;
}

// Either rejected, or exactly what EncodeContextToken makes of the result.
AssertionResult RejectedOrCanonical(std::string_view token) {
  VersionVector v;
  std::string error;
  if (!DecodeContextToken(token, &v, &error)) {
    if (error.empty()) return AssertionFailure() << "rejected without an error";
    return AssertionSuccess();
  }
  if (EncodeContextToken(v) != token)
    return AssertionFailure() << "accepted non-canonical " << token;
  return AssertionSuccess();
}

bool Rejects(std::string_view token) {
  VersionVector v;
  std::string error;
  return !DecodeContextToken(token, &v, &error);
}

TEST(CausalToken, RoundTrip) {
  EXPECT_EQ(EncodeContextToken(VersionVector()), "0");
  VersionVector v;
  std::string error;
  ASSERT_TRUE(DecodeContextToken("0", &v, &error));
  EXPECT_TRUE(v.empty());
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    const VersionVector want = RandomVector(rng, 12);
    const std::string token = EncodeContextToken(want);
    for (char c : token) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << token;
    }
    if (want.empty()) continue;
    EXPECT_EQ(token, Seal(TokenBody(want.entries())));
    VersionVector got;
    ASSERT_TRUE(DecodeContextToken(token, &got, &error)) << error << " " << token;
    EXPECT_EQ(got, want);
    EXPECT_EQ(EncodeContextToken(got), token);
    // Its size grows with the number of nodes only: at most 2+18 bytes each.
    EXPECT_LE(token.size(), (6 + 18 * want.size()) * 4 / 3 + 3);
  }
  std::vector<VersionVector::Entry> many;
  for (ActorId a = 1; a <= 4096; ++a) many.emplace_back(a, a);
  ASSERT_TRUE(DecodeContextToken(EncodeContextToken(VersionVector(many)), &v, &error)) << error;
  EXPECT_EQ(v.size(), 4096u);
}

TEST(CausalToken, RejectsMangledTokens) {
  std::mt19937_64 rng(13);
  const std::string kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::string kNotBase64Url = "= +/.\n";
  for (int i = 0; i < 60; ++i) {
    VersionVector v = RandomVector(rng, 6);
    v.Advance(1 + rng() % 100, 1 + rng() % 1000);
    const std::string token = EncodeContextToken(v);
    for (size_t len = 0; len < token.size(); ++len) {
      EXPECT_TRUE(Rejects(token.substr(0, len))) << token.substr(0, len);
    }
    for (size_t pos = 0; pos < token.size(); ++pos) {
      std::string replacements = kNotBase64Url;
      for (int k = 0; k < 8; ++k) replacements += kChars[rng() % 64];
      for (char c : replacements) {
        if (c == token[pos]) continue;
        std::string mangled = token;
        mangled[pos] = c;
        EXPECT_TRUE(Rejects(mangled)) << mangled;
      }
      std::string dropped = token;
      dropped.erase(pos, 1);
      EXPECT_TRUE(Rejects(dropped)) << dropped;
    }
    EXPECT_TRUE(Rejects(token + "A"));
    EXPECT_TRUE(Rejects(token + "AA"));
    EXPECT_TRUE(Rejects(token + "="));
    EXPECT_TRUE(Rejects(token + " "));
    EXPECT_TRUE(Rejects(" " + token));
  }
  // Random strings, printable and not.
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = i % 2 == 0 ? kChars[rng() % 64] : static_cast<char>(rng());
    EXPECT_TRUE(RejectedOrCanonical(s)) << s;
  }
  EXPECT_TRUE(Rejects(""));
  EXPECT_TRUE(Rejects("00"));
  EXPECT_TRUE(Rejects("0 "));
  EXPECT_TRUE(Rejects(std::string(1 << 20, 'A')));
}

// Tokens with a good checksum that EncodeContextToken could not have made.
TEST(CausalToken, RejectsWellSealedMalformedBodies) {
  const std::string good = TokenBody({{1, 5}, {2, 200}});  // 25 bytes with the checksum
  ASSERT_FALSE(Rejects(Seal(good)));
  std::vector<std::pair<std::string, std::string>> cases;
  auto add = [&](const char* name, std::string body) { cases.emplace_back(name, std::move(body)); };
  add("format 0", std::string(1, '\0') + good.substr(1));
  add("format 2", "\x02" + good.substr(1));
  add("trailing byte", good + "x");
  add("zero entries", TokenBody({}));
  add("zero actor", TokenBody({{0, 5}}));
  add("zero counter", TokenBody({{1, 0}}));
  add("unsorted actors", TokenBody({{2, 5}, {1, 7}}));
  add("repeated actor", TokenBody({{2, 5}, {2, 7}}));
  std::string body = TokenBody({{1, 5}});
  body.back() = '\x85';
  add("non-canonical varint", body + '\x00');
  std::string huge(1, '\x01');
  PutVarint(&huge, 1ull << 40);
  add("huge count", huge + good.substr(2));
  huge.resize(1);
  PutVarint(&huge, ~0ull);
  add("count of 2^64-1", huge + good.substr(2));
  std::vector<VersionVector::Entry> too_many;
  for (ActorId a = 1; a <= 4097; ++a) too_many.emplace_back(a, 1);
  add("4097 entries", TokenBody(too_many));
  std::string overflow("\x01\x01", 2);
  PutFixed64(&overflow, 1);
  overflow += std::string(9, '\xff') + '\x02';
  add("counter above 64 bits", overflow);
  std::string count_too_big = good;
  count_too_big[1] = 3;
  add("count above entries", count_too_big);
  add("body too short", std::string("\x01", 1));
  add("empty body", "");
  for (const auto& [name, b] : cases) EXPECT_TRUE(Rejects(Seal(b))) << name;
  // Bad base64: padding, a length of 1 mod 4, spare bits set.
  const std::string token = Seal(good);
  ASSERT_EQ(token.size() % 4, 2u);  // 4 spare bits in the last character: A, Q, g or w
  EXPECT_TRUE(Rejects(token + "="));
  EXPECT_TRUE(Rejects(token + "=="));
  std::string spare = token;
  spare.back() = static_cast<char>(spare.back() + 1);
  EXPECT_TRUE(Rejects(spare));
}

// --- The peer encoding of a key state ---

std::vector<KeyState> SampleStates() {
  std::vector<KeyState> states;
  HistoryStats stats;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    History history(seed, HistoryOptions{.steps = 30});
    EXPECT_TRUE(history.Run(&stats, &states));
  }
  KeyState binary;
  const std::string values[] = {std::string(), std::string("\0\xff\x80", 3), std::string(300, 'z')};
  uint64_t counter = 1;
  for (const std::string& v : values) {
    ApplyWrite(&binary, VersionVector(), Dot{~0ull, counter++ << 60}, &v);
  }
  binary.expire_at_ms = INT64_MAX;
  binary.ttl_stamp = Dot{~0ull, ~0ull};
  states.push_back(binary);
  states.push_back(KeyState());
  return states;
}

TEST(CausalEncoding, PartsEncodeTheSameBytesAsTheState) {
  // EncodeKeyStateParts (a block's views) must append exactly what
  // EncodeKeyState writes: peers decode both with one decoder.
  KeyState typed;
  ApplyWrite(&typed, VersionVector(), Dot{7, 3}, nullptr);
  typed.siblings.push_back(SiblingValue{Dot{9, 4}, "plain-data", ValueType::kHash});
  typed.context.Advance(9, 4);
  std::vector<KeyState> states = SampleStates();
  states.push_back(typed);
  for (const KeyState& s : states) {
    std::string whole = "prefix";
    EncodeKeyState(s, &whole);
    std::vector<SiblingRef> refs;
    for (const SiblingValue& v : s.siblings) refs.push_back(SiblingRef{v.dot, v.value, v.type});
    std::string parts = "prefix";
    EncodeKeyStateParts(s.context.entries(), refs, s.expire_at_ms, s.ttl_stamp, &parts);
    EXPECT_EQ(parts, whole) << Print(s);
  }
}

TEST(CausalEncoding, RoundTrip) {
  const std::vector<KeyState> states = SampleStates();
  ASSERT_GT(states.size(), 100u);
  std::string all;
  for (const KeyState& s : states) {
    std::string one;
    EncodeKeyState(s, &one);
    std::string_view in = one;
    KeyState got;
    std::string error;
    ASSERT_TRUE(DecodeKeyState(&in, &got, &error)) << error << " " << Print(s);
    EXPECT_EQ(Print(got), Print(s));
    EXPECT_TRUE(in.empty());
    all += one;
  }
  all += "trailing";
  std::string_view in = all;
  // One state decoded into again and again, as a peer does with each batch:
  // nothing of the state before may stay in it.
  KeyState got;
  for (const KeyState& s : states) {
    std::string error;
    ASSERT_TRUE(DecodeKeyState(&in, &got, &error)) << error;
    EXPECT_EQ(Print(got), Print(s));
    EXPECT_EQ(got, s);
  }
  EXPECT_EQ(in, "trailing");
  std::string error;
  ASSERT_FALSE(DecodeKeyState(&in, &got, &error));
  EXPECT_EQ(got, KeyState()) << "a failed decode leaves the state empty";
}

// Decodes what remains of `bytes` either not at all or into a Valid state
// that encodes back to exactly the bytes consumed.
AssertionResult FailsOrValid(std::string_view bytes) {
  std::string_view in = bytes;
  KeyState got;
  std::string error;
  if (!DecodeKeyState(&in, &got, &error)) {
    if (in != bytes) return AssertionFailure() << "a failed decode consumed input";
    if (error.empty()) return AssertionFailure() << "failed without an error";
    return AssertionSuccess();
  }
  if (!Valid(got) || !HoldsInvariants(got)) {
    return AssertionFailure() << "decoded an invalid state: " << Print(got);
  }
  std::string again;
  EncodeKeyState(got, &again);
  if (again != bytes.substr(0, bytes.size() - in.size())) {
    return AssertionFailure() << "decoded state does not encode back: " << Print(got);
  }
  return AssertionSuccess();
}

TEST(CausalEncoding, TruncatedOrMutatedFailsOrDecodesValid) {
  const std::vector<KeyState> states = SampleStates();
  std::mt19937_64 rng(17);
  for (size_t k = 0; k < states.size(); ++k) {
    if (k % 4 != 0 && k + 2 < states.size()) continue;  // a quarter, and the last two
    const KeyState& s = states[k];
    std::string bytes;
    EncodeKeyState(s, &bytes);
    for (size_t len = 0; len < bytes.size(); ++len) {
      std::string_view in(bytes.data(), len);
      KeyState got;
      std::string error;
      ASSERT_FALSE(DecodeKeyState(&in, &got, &error)) << "prefix " << len << " of " << Print(s);
    }
    for (size_t pos = 0; pos < bytes.size(); ++pos) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string m = bytes;
        m[pos] = static_cast<char>(m[pos] ^ (1 << bit));
        ASSERT_TRUE(FailsOrValid(m)) << "bit " << bit << " of byte " << pos << " of " << Print(s);
      }
      for (char c : {'\x00', '\x7f', '\x80', '\xff', static_cast<char>(rng())}) {
        std::string m = bytes;
        m[pos] = c;
        ASSERT_TRUE(FailsOrValid(m)) << "byte " << pos << " of " << Print(s);
        m = bytes;
        m.insert(pos, 1, c);
        ASSERT_TRUE(FailsOrValid(m)) << "insert at " << pos << " of " << Print(s);
      }
      std::string m = bytes;
      m.erase(pos, 1);
      ASSERT_TRUE(FailsOrValid(m)) << "erase at " << pos << " of " << Print(s);
    }
  }
  for (int i = 0; i < 20000; ++i) {
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng() % 4 == 0 ? rng() % 3 : rng());
    ASSERT_TRUE(FailsOrValid(junk));
  }
  // Counts far above the input must not allocate.
  std::string huge;
  PutVarint(&huge, 1ull << 62);
  EXPECT_TRUE(FailsOrValid(huge));
  huge = std::string(1, '\0');
  PutVarint(&huge, 1ull << 62);
  EXPECT_TRUE(FailsOrValid(huge));
}

}  // namespace
}  // namespace causalkv::store
