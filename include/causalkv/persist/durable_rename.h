// Replacing a file so that a crash (power loss included) leaves either the
// old or the new one under its name: rename(2), then fsync of the directory
// that holds both names, without which the rename itself may be lost.
#pragma once

#include <string>

namespace causalkv::persist {

// Makes every name change in `dir` so far durable. False with *error.
bool SyncDirectory(const std::string& dir, std::string* error);

// Renames `from` to `to` (both in `dir`) and syncs `dir`. The caller has
// already fsynced the contents of `from`. False with *error; on failure the
// rename may or may not have happened.
bool RenameDurably(const std::string& from, const std::string& to, const std::string& dir,
                   std::string* error);

}  // namespace causalkv::persist
