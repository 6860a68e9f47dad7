// HighWaterMark: the saved mark round-trips, a lower mark never replaces a
// higher one, and Load accepts only what Save writes (the fuzz target
// tests/fuzz/high_water_mark_fuzz.cc checks the same against any bytes).
#include "causalkv/persist/high_water_mark.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace causalkv::persist {
namespace {

class HighWaterMarkTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/causalkv-hwm-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteMarkFile(const std::string &text) const {
    std::ofstream out(dir_ + "/" + HighWaterMark::kFileName, std::ios::binary | std::ios::trunc);
    out << text;
  }

  // Load's result: the mark, or "refused".
  std::string Load() const {
    HighWaterMark hwm(dir_);
    uint64_t mark = 0;
    std::string error;
    if (!hwm.Load(&mark, &error)) return "refused";
    return std::to_string(mark);
  }

  std::string dir_;
};

TEST_F(HighWaterMarkTest, SavedMarkLoadsAndALowerOneNeverReplacesIt) {
  EXPECT_EQ(Load(), "0");  // no file yet
  HighWaterMark hwm(dir_);
  std::string error;
  ASSERT_TRUE(hwm.Save(18446744073709551615ull, &error)) << error;
  EXPECT_EQ(Load(), "18446744073709551615");
  ASSERT_TRUE(hwm.Save(5, &error)) << error;
  EXPECT_EQ(Load(), "18446744073709551615");
}

TEST_F(HighWaterMarkTest, LoadRefusesWhatSaveCannotHaveWritten) {
  WriteMarkFile("causalkv-hwm 1 0\n");
  EXPECT_EQ(Load(), "0");
  for (const char *text : {"", "causalkv-hwm 1 \n", "causalkv-hwm 1 5", "causalkv-hwm 1 5 \n",
                           "causalkv-hwm 1 18446744073709551616\n", "causalkv-hwm 2 5\n",
                           "causalkv-hwm 1 +5\n", "causalkv-hwm 1 5\n\n"}) {
    WriteMarkFile(text);
    EXPECT_EQ(Load(), "refused") << text;
  }
}

// Found by fuzz_high_water_mark: Load read only the first 127 bytes, so a
// file that went on after a valid-looking first line loaded with the mark of
// that line, whatever followed.
TEST_F(HighWaterMarkTest, LoadRefusesAFileLongerThanAMark) {
  const std::string line = "causalkv-hwm 1 " + std::string(110, '0') + "5\n";
  ASSERT_EQ(line.size(), 127u);
  WriteMarkFile(line + "causalkv-hwm 1 9000000\n");
  EXPECT_EQ(Load(), "refused");
  WriteMarkFile("causalkv-hwm 1 007\n");  // Save writes no leading zeros
  EXPECT_EQ(Load(), "refused");
}

}  // namespace
}  // namespace causalkv::persist
