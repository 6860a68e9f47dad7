// Redis's glob-style matching (KEYS, SCAN MATCH, CONFIG GET patterns):
// `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` escapes x.
// Binary safe; never recurses more than the pattern's length deep.
#pragma once

#include <string_view>

namespace causalkv::util {

bool GlobMatch(std::string_view pattern, std::string_view subject, bool nocase = false);

}  // namespace causalkv::util
