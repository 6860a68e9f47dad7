#include "tracking.h"

#include <algorithm>

namespace causalkv::command {
namespace {

void AppendBulk(std::string* out, std::string_view s) {
  out->push_back('$');
  out->append(std::to_string(s.size()));
  out->append("\r\n");
  out->append(s);
  out->append("\r\n");
}

// One prefix is a prefix of the other (or they are equal).
bool Overlap(std::string_view a, std::string_view b) {
  return a.starts_with(b) || b.starts_with(a);
}

}  // namespace

bool Tracking::Enable(ClientState& client, const Options& options, std::string* error) {
  ClientTracking& t = client.tracking;
  if (options.bcast) {
    for (size_t i = 0; i < options.prefixes.size(); ++i) {
      const std::string& p = options.prefixes[i];
      for (const std::string& existing : t.prefixes) {
        if (Overlap(p, existing)) {
          *error = "Prefix '" + p + "' overlaps with an existing prefix '" + existing +
                   "'. Prefixes for a single client must not overlap.";
          return false;
        }
      }
      for (size_t j = i + 1; j < options.prefixes.size(); ++j) {
        if (Overlap(p, options.prefixes[j])) {
          *error = "Prefix '" + p + "' overlaps with another provided prefix '" +
                   options.prefixes[j] + "'. Prefixes for a single client must not overlap.";
          return false;
        }
      }
    }
  }
  if (!t.on) ++tracking_clients_;
  t.on = true;
  t.bcast = options.bcast;
  t.optin = options.optin;
  t.optout = options.optout;
  t.noloop = options.noloop;
  t.redirect = options.redirect;
  t.redirect_broken = false;
  if (options.bcast) {
    std::vector<std::string> added = options.prefixes;
    // BCAST without PREFIX: every key (the empty prefix), once.
    if (added.empty() && t.prefixes.empty()) added.emplace_back();
    for (std::string& p : added) {
      prefixes_[p].clients.push_back(client.id);
      t.prefixes.push_back(std::move(p));
    }
    std::sort(t.prefixes.begin(), t.prefixes.end());  // TRACKINGINFO lists them sorted
  }
  return true;
}

void Tracking::Disable(ClientState& client) {
  ClientTracking& t = client.tracking;
  if (!t.on) return;
  --tracking_clients_;
  for (const std::string& p : t.prefixes) {
    auto it = prefixes_.find(p);
    if (it == prefixes_.end()) continue;
    std::erase(it->second.clients, client.id);
    if (it->second.clients.empty()) prefixes_.erase(it);
  }
  // Its entries in the key table stay until those keys change, as in
  // Redis: each is checked against the client's state when sent.
  t = ClientTracking{};
}

void Tracking::RememberKeys(ClientState& client, const std::vector<std::string_view>& keys) {
  const ClientTracking& t = client.tracking;
  if (!t.on || t.bcast) return;
  if (t.optin && !t.caching) return;
  if (t.optout && t.caching) return;
  for (std::string_view key : keys) {
    std::vector<uint64_t>& ids = table_[std::string(key)];
    if (std::find(ids.begin(), ids.end(), client.id) == ids.end()) {
      ids.push_back(client.id);
      ++items_;
    }
  }
  EnforceLimit();
}

void Tracking::EnforceLimit() {
  const uint64_t max_keys = server_->config.tracking_table_max_keys;
  // As Redis: a key forgotten for room is invalidated, so no client keeps
  // caching what would no longer be reported.
  while (max_keys != 0 && table_.size() > max_keys) {
    const std::string key = table_.begin()->first;
    InvalidateRemembered(key, 0);  // the key did not change: no BCAST client hears of it
  }
}

void Tracking::InvalidateRemembered(std::string_view key, uint64_t by) {
  auto it = table_.find(std::string(key));
  if (it == table_.end()) return;
  const std::vector<uint64_t> ids = std::move(it->second);
  items_ -= ids.size();
  table_.erase(it);
  const std::vector<std::string_view> keys{key};
  for (uint64_t id : ids) {
    auto client = server_->clients.find(id);
    if (client == server_->clients.end()) continue;
    const ClientTracking& t = client->second->tracking;
    if (!t.on || t.bcast) continue;  // stopped tracking since it read the key
    if (t.noloop && id == by) continue;
    Send(*client->second, &keys);
  }
}

void Tracking::KeyChanged(std::string_view key, uint64_t by) {
  if (!table_.empty()) InvalidateRemembered(key, by);
  for (auto& [prefix, state] : prefixes_) {
    if (!key.starts_with(prefix)) continue;
    state.pending.emplace_back(std::string(key), by);
    pending_bcast_ = true;
  }
}

void Tracking::Flushed() {
  for (const auto& [id, client] : server_->clients) {
    if (client->tracking.on) Send(*client, nullptr);
  }
  table_.clear();
  items_ = 0;
}

void Tracking::Send(ClientState& client, const std::vector<std::string_view>* keys) {
  ClientState* target = &client;
  const uint64_t redirect = client.tracking.redirect;
  if (redirect != 0) {
    auto it = server_->clients.find(redirect);
    if (it == server_->clients.end()) {
      // Told at each invalidation it misses, as Redis does, so that it
      // knows its cache can no longer be trusted.
      client.tracking.redirect_broken = true;
      if (client.protocol >= 3) {
        Deliver(client.id,
                ">2\r\n$21\r\ntracking-redir-broken\r\n:" + std::to_string(redirect) + "\r\n");
      }
      return;
    }
    target = it->second;
  }
  std::string frame;
  if (target->protocol >= 3) {
    frame = ">2\r\n$10\r\ninvalidate\r\n";
  } else if (redirect != 0 && target->subscribed()) {
    frame = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";
  } else {
    return;  // RESP2 has no push frames on the client's own connection
  }
  if (keys == nullptr) {
    frame += target->protocol >= 3 ? "_\r\n" : "$-1\r\n";
  } else {
    frame += "*" + std::to_string(keys->size()) + "\r\n";
    for (std::string_view key : *keys) AppendBulk(&frame, key);
  }
  Deliver(target->id, std::move(frame));
}

void Tracking::Deliver(uint64_t id, std::string bytes) {
  deferred_.emplace_back(id, std::move(bytes));
}

void Tracking::FlushPending() {
  if (pending_bcast_) {
    pending_bcast_ = false;
    std::vector<std::string_view> keys;
    for (auto& [prefix, state] : prefixes_) {
      if (state.pending.empty()) continue;
      for (uint64_t id : state.clients) {
        auto client = server_->clients.find(id);
        if (client == server_->clients.end()) continue;
        keys.clear();
        for (const auto& [key, by] : state.pending) {
          if (client->second->tracking.noloop && by == id) continue;
          keys.push_back(key);
        }
        if (!keys.empty()) Send(*client->second, &keys);
      }
      state.pending.clear();
    }
  }
  if (deferred_.empty() || !server_->push_to_client) {
    deferred_.clear();
    return;
  }
  std::vector<std::pair<uint64_t, std::string>> sending;
  sending.swap(deferred_);
  for (const auto& [id, bytes] : sending) server_->push_to_client(id, bytes);
}

}  // namespace causalkv::command
