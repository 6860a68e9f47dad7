// Private to the config module: redis.conf's argument quoting, both ways.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace causalkv::config::internal {

// Splits one config line the way Redis's sdssplitargs() does: arguments are
// separated by blanks; "double quotes" understand \n \r \t \b \a \xHH and
// backslash-anything; 'single quotes' understand only \'. A quote may open in
// the middle of an argument, but a closing quote must be followed by a blank
// or the end of the line. Returns false (and leaves *args unspecified) on an
// unterminated quote or a closing quote glued to more text.
bool SplitArgs(std::string_view line, std::vector<std::string>* args);

// The inverse, for error messages: `arg` unchanged when it would split back
// as itself, otherwise double-quoted with escapes (like Redis's sdscatrepr()).
std::string QuoteArg(std::string_view arg);

}  // namespace causalkv::config::internal
