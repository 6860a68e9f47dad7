// Private to the config module: redis.conf's argument quoting, both ways.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace causalkv::config::internal {

// Splits one config line with Redis's quoting rules (util::SplitArgs, the
// same splitter inline requests use). Returns false on unbalanced quotes.
bool SplitArgs(std::string_view line, std::vector<std::string>* args);

// The inverse, for error messages: `arg` unchanged when it would split back
// as itself, otherwise double-quoted with escapes (like Redis's sdscatrepr()).
std::string QuoteArg(std::string_view arg);

}  // namespace causalkv::config::internal
