// Shared by the collection value tests (hash, set, sorted set, list): damage
// to a valid plain-data form, for the Deserialize-never-crashes tests.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

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

// The damage test of a value type's decoder, under the default limits:
// every strict prefix of each valid form is refused, and 3000 damaged copies
// of each never crash; `check` runs on each copy that decodes. Returns how
// many decoded (the caller checks that some did, so `check` really ran).
template <typename T, typename Check>
int DecodeDamagedForms(const std::vector<std::string>& valid, Check&& check) {
  std::mt19937_64 rng(42);
  int accepted = 0;
  for (const std::string& original : valid) {
    for (size_t len = 0; len < original.size(); ++len) {
      T* prefix = T::Deserialize(std::string_view(original).substr(0, len), {});
      EXPECT_EQ(prefix, nullptr) << len;
      T::Destroy(prefix);
    }
    for (int trial = 0; trial < 3000; ++trial) {
      T* decoded = T::Deserialize(Damaged(original, rng), {});
      if (decoded == nullptr) continue;
      ++accepted;
      check(*decoded);
      T::Destroy(decoded);
    }
  }
  return accepted;
}

}  // namespace causalkv::store::value_testing
