// NodeIdentity: the random 64-bit id of a data directory, the actor whose
// counter stamps this node's writes (dots: node id, counter).
//
// Invariants:
// - Id 0 is never used; 0 means "no node".
// - An id is reused only after a clean stop. A run that did not stop cleanly
//   may have acknowledged writes whose dots never reached this disk while
//   peers hold them; a later run under the same id could then issue dots that
//   claim to cover the lost ones (or collide with them). So such a directory,
//   like a wiped or unreadable one, starts under a fresh id.
//
// File: <dir>/node.id, one line
//   "causalkv-node 1 <id: 16 lowercase hex digits> <running|clean>\n".
// DO NOT CHANGE the format: existing data directories depend on it.
//
// The file is replaced durably (temp file, fsync, rename, fsync of the
// directory; see durable_rename.h), so a crash leaves the old or the new line.
// These functions are for the startup and shutdown path of one thread; they
// do no locking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace causalkv::persist {

struct NodeIdentity {
  enum class Origin {
    kNew,                       // no node.id yet: a fresh (or wiped) directory
    kResumed,                   // the last run stopped cleanly: its id is kept
    kReplacedAfterUncleanStop,  // the last run was still "running": new id
    kReplacedUnreadable,        // node.id could not be parsed: new id
  };
  uint64_t id = 0;  // never 0 after StartNodeIdentity() succeeds
  Origin origin = Origin::kNew;
  // The id given up, for kReplacedAfterUncleanStop (for the log); 0 otherwise.
  uint64_t previous_id = 0;
};

inline constexpr const char* kNodeIdFileName = "node.id";

// Decides this run's id from <dir>/node.id as the Origin values describe
// (a new id is random, from getrandom(2), non-zero and never the previous
// one), then durably records it with state "running" before returning true,
// so that a crash from here on makes the next start replace it. An
// unparsable file is logged as a warning and replaced. Returns false with
// *error naming the file and the system error when the file cannot be read
// (other than not existing) or written; the server must then not start.
// `dir` empty means the current directory.
bool StartNodeIdentity(const std::string& dir, NodeIdentity* out, std::string* error);

// Durably records that the run under `id` stopped cleanly (state "clean"),
// so that the next start keeps the id. Call it only at a shutdown that has
// saved every write this node acknowledged, after the last write. REQUIRES:
// id != 0. Returns false with *error on an I/O failure; the next start then
// sees "running" and takes a new id, which is safe.
bool MarkNodeIdentityClean(const std::string& dir, uint64_t id, std::string* error);

// The id as 16 lowercase hex digits, zero-padded: the form of node.id and
// of the INFO and log lines.
std::string FormatNodeId(uint64_t id);

// Parses exactly 16 lowercase hex digits into a non-zero id. False (and
// *id unchanged) for anything else, 0 included.
bool ParseNodeId(std::string_view text, uint64_t* id);

}  // namespace causalkv::persist
