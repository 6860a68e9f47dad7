// The hash slot of a key, as Redis Cluster computes it: CRC16 (XMODEM) of
// the key, or of the part between the first '{' and the next '}' when that
// part is non-empty (a hash tag), modulo 16384.
#pragma once

#include <cstdint>
#include <string_view>

namespace causalkv::util {

inline constexpr int kHashSlots = 16384;

uint16_t Crc16(std::string_view bytes);
int KeySlot(std::string_view key);

}  // namespace causalkv::util
