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

// Bitmaps (SETBIT, BITFIELD, BITOP ...) and LCS.
inline constexpr const char* kBitOffset = "bit offset is not an integer or out of range";
inline constexpr const char* kBitValue = "bit is not an integer or out of range";
inline constexpr const char* kBitArgument = "The bit argument must be 1 or 0.";
inline constexpr const char* kBitfieldType =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 "
    "is.";
inline constexpr const char* kBitfieldOverflow = "Invalid OVERFLOW type specified";
inline constexpr const char* kBitfieldReadOnly = "BITFIELD_RO only supports the GET subcommand";
inline constexpr const char* kBitopNotArity = "BITOP NOT must be called with a single source key.";
inline constexpr const char* kLcsWrongType = "The specified keys must contain string values";
inline constexpr const char* kLcsLenAndIdx =
    "If you want both the length and indexes, please just use IDX.";
inline constexpr const char* kLcsTooLong = "String too long for LCS";
inline constexpr const char* kLcsTableTooBig =
    "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
inline constexpr const char* kLcsNoMemory =
    "Insufficient memory, failed allocating transient memory for LCS";

// HyperLogLog.
inline constexpr const char* kHllWrongType =
    "-WRONGTYPE Key is not a valid HyperLogLog string value.";
inline constexpr const char* kHllCorrupt = "-INVALIDOBJ Corrupted HLL object detected";

// Sorted sets (ZADD, the ZRANGE family, ZPOP*, ZUNION ...).
inline constexpr const char* kNotPositive = "value is out of range, must be positive";
inline constexpr const char* kZsetNotFloatRange = "min or max is not a float";
inline constexpr const char* kZsetNotLexRange = "min or max not valid string range item";
inline constexpr const char* kZsetNanScore = "resulting score is not a number (NaN)";
inline constexpr const char* kZaddXxNx = "XX and NX options at the same time are not compatible";
inline constexpr const char* kZaddGtLtNx =
    "GT, LT, and/or NX options at the same time are not compatible";
inline constexpr const char* kZaddIncrPairs =
    "INCR option supports a single increment-element pair";
inline constexpr const char* kZrangeLimit =
    "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
inline constexpr const char* kZrangeLexScores =
    "syntax error, WITHSCORES not supported in combination with BYLEX";
inline constexpr const char* kNumkeys = "numkeys should be greater than 0";
inline constexpr const char* kCountPositive = "count should be greater than 0";
inline constexpr const char* kWeightNotFloat = "weight value is not a float";
inline constexpr const char* kLimitNegative = "LIMIT can't be negative";
inline constexpr const char* kRandCountRange =
    "value is out of range, value must between -9223372036854775807 and 9223372036854775807";
inline constexpr const char* kRandCountWithScoresRange = "value is out of range";

// Geo (GEOADD, GEOSEARCH, GEORADIUS ...).
inline constexpr const char* kGeoNoMember = "could not decode requested zset member";
inline constexpr const char* kGeoUnit = "unsupported unit provided. please use M, KM, FT, MI";
inline constexpr const char* kGeoRadiusNotNumber = "need numeric radius";
inline constexpr const char* kGeoRadiusNegative = "radius cannot be negative";
inline constexpr const char* kGeoWidthNotNumber = "need numeric width";
inline constexpr const char* kGeoHeightNotNumber = "need numeric height";
inline constexpr const char* kGeoBoxNegative = "height or width cannot be negative";
inline constexpr const char* kGeoCount = "COUNT must be > 0";
inline constexpr const char* kGeoAnyWithoutCount = "the ANY argument requires COUNT argument";

}  // namespace causalkv::command::err
