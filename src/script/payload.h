// FUNCTION DUMP's payload: every library's code, in causalkv's own format
// (Redis's is an RDB blob; FUNCTION RESTORE only has to read ours).
//
// DO NOT CHANGE (payloads are kept by users):
//   "CKVFUNC1"  8 bytes
//   u32 count, then per library: u32 length, its code (with its shebang)
//   u64 FNV-1a of everything before it
// Integers little-endian.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace causalkv::script {

std::string EncodeLibraries(const std::vector<std::string_view>& codes);
// False when `payload` is not exactly one well-formed payload.
bool DecodeLibraries(std::string_view payload, std::vector<std::string>* codes);

}  // namespace causalkv::script
