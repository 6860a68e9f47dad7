// Shared by the collection value tests (hash, set, sorted set, list): damage
// to a valid plain-data form, for the Deserialize-never-crashes tests.
#pragma once

#include <random>
#include <string>

namespace causalkv::store::value_testing {

// `original` with 1 to 3 random changes: a bit flipped, a byte replaced, a
// byte inserted, a byte removed, or the rest cut off.
inline std::string Damaged(const std::string& original, std::mt19937_64& rng) {
  std::string bytes = original;
  const int mutations = 1 + static_cast<int>(rng() % 3);
  for (int m = 0; m < mutations && !bytes.empty(); ++m) {
    const size_t at = rng() % bytes.size();
    switch (rng() % 5) {
      case 0:
        bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
        break;
      case 1:
        bytes[at] = static_cast<char>(rng());
        break;
      case 2:
        bytes.insert(at, 1, static_cast<char>(rng()));
        break;
      case 3:
        bytes.erase(at, 1);
        break;
      default:
        bytes.resize(at);
        break;
    }
  }
  return bytes;
}

}  // namespace causalkv::store::value_testing
