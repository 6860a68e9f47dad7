// Error reply texts, in Redis's wording. Text without a leading '-' gets
// "-ERR " from the writer; codes other than ERR are spelled out.
#pragma once

namespace causalkv::command::err {

inline constexpr const char* kSyntax = "syntax error";
inline constexpr const char* kNotInteger = "value is not an integer or out of range";
inline constexpr const char* kNotFloat = "value is not a valid float";
inline constexpr const char* kOverflow = "increment or decrement would overflow";
inline constexpr const char* kNanOrInf = "increment would produce NaN or Infinity";
inline constexpr const char* kNoSuchKey = "no such key";
inline constexpr const char* kDbRange = "DB index is out of range";
inline constexpr const char* kTooBig = "string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr const char* kOffsetRange = "offset is out of range";
inline constexpr const char* kNoAuth = "-NOAUTH Authentication required.";
inline constexpr const char* kWrongPass =
    "-WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr const char* kVersionFormat = "version is not a non-negative integer";
inline constexpr const char* kVersionFromFuture =
    "version is greater than any version this server has issued";
inline constexpr const char* kVersionUnavailable =
    "cannot persist the version high-water mark; write refused";
inline constexpr const char* kCursor = "invalid cursor";
inline constexpr const char* kWrongType =
    "-WRONGTYPE Operation against a key holding the wrong kind of value";

}  // namespace causalkv::command::err
