// Strict argument parsing with Redis's rules (string2ll, string2ld).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace causalkv::command {

// Decimal int64: optional '-', no '+', no spaces, no leading zeros, no overflow.
bool ParseInt64(std::string_view s, int64_t* out);
// A finite or infinite long double as strtold reads it, with no leading
// space, no trailing garbage and not NaN.
bool ParseLongDouble(std::string_view s, long double* out);
// A double as Redis's string2d reads it (ZADD scores, WEIGHTS, GEO
// coordinates): strtod over the whole argument, no leading space, not NaN,
// no overflow and no underflow to zero ("inf" and "-inf" are accepted).
bool ParseDouble(std::string_view s, double* out);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string ToLower(std::string_view s);
// Formats like Redis's INCRBYFLOAT reply: "%.17Lf" with trailing zeros (and
// a trailing dot) removed.
std::string FormatLongDouble(long double v);

}  // namespace causalkv::command
