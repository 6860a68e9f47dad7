#include "causalkv/persist/node_identity.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

namespace causalkv::persist {
namespace {

namespace fs = std::filesystem;
using Origin = NodeIdentity::Origin;

class NodeIdentityTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/causalkv-node-identity-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }

  std::string IdPath() const { return dir_ + "/node.id"; }

  std::string ReadIdFile() const {
    std::ifstream in(IdPath(), std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  void WriteIdFile(const std::string& text) const {
    std::ofstream out(IdPath(), std::ios::binary | std::ios::trunc);
    out << text;
  }

  NodeIdentity Start() {
    NodeIdentity identity;
    std::string error;
    EXPECT_TRUE(StartNodeIdentity(dir_, &identity, &error)) << error;
    return identity;
  }

  // Only node.id is left: no temporary file.
  void ExpectOnlyTheIdFile() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.push_back(entry.path().filename().string());
    }
    EXPECT_EQ(names, std::vector<std::string>{"node.id"});
  }

  std::string dir_;
};

TEST(NodeIdentityFormatTest, FormatIsSixteenLowercaseHexDigits) {
  EXPECT_EQ(FormatNodeId(1), "0000000000000001");
  EXPECT_EQ(FormatNodeId(0xDEADBEEFull), "00000000deadbeef");
  EXPECT_EQ(FormatNodeId(UINT64_MAX), "ffffffffffffffff");
}

TEST(NodeIdentityFormatTest, ParseTakesExactlySixteenHexDigitsAndNotZero) {
  uint64_t id = 7;
  EXPECT_TRUE(ParseNodeId("00000000deadbeef", &id));
  EXPECT_EQ(id, 0xdeadbeefull);
  EXPECT_TRUE(ParseNodeId("ffffffffffffffff", &id));
  EXPECT_EQ(id, UINT64_MAX);
  for (const char* bad :
       {"", "0000000000000000", "deadbeef", "00000000deadbeef0", "00000000DEADBEEF",
        "00000000deadbeeg", " 0000000deadbeef", "-000000000000001", "0x0000000000001f"}) {
    id = 7;
    EXPECT_FALSE(ParseNodeId(bad, &id)) << bad;
    EXPECT_EQ(id, 7u) << bad;
  }
  for (const uint64_t value : {uint64_t{1}, uint64_t{0x0123456789abcdef}, UINT64_MAX}) {
    ASSERT_TRUE(ParseNodeId(FormatNodeId(value), &id));
    EXPECT_EQ(id, value);
  }
}

TEST_F(NodeIdentityTest, FreshDirectoryGetsANewIdMarkedRunning) {
  const NodeIdentity identity = Start();
  EXPECT_EQ(identity.origin, Origin::kNew);
  EXPECT_NE(identity.id, 0u);
  EXPECT_EQ(identity.previous_id, 0u);
  EXPECT_EQ(ReadIdFile(), "causalkv-node 1 " + FormatNodeId(identity.id) + " running\n");
  ExpectOnlyTheIdFile();
}

TEST_F(NodeIdentityTest, CleanStopKeepsTheId) {
  const NodeIdentity first = Start();
  std::string error;
  ASSERT_TRUE(MarkNodeIdentityClean(dir_, first.id, &error)) << error;
  EXPECT_EQ(ReadIdFile(), "causalkv-node 1 " + FormatNodeId(first.id) + " clean\n");
  ExpectOnlyTheIdFile();

  const NodeIdentity second = Start();
  EXPECT_EQ(second.origin, Origin::kResumed);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.previous_id, 0u);
  // Running again: a crash now must not let the id be reused.
  EXPECT_EQ(ReadIdFile(), "causalkv-node 1 " + FormatNodeId(first.id) + " running\n");
}

TEST_F(NodeIdentityTest, UncleanStopGivesANewId) {
  const NodeIdentity first = Start();  // never marked clean: as after kill -9
  const NodeIdentity second = Start();
  EXPECT_EQ(second.origin, Origin::kReplacedAfterUncleanStop);
  EXPECT_NE(second.id, 0u);
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(second.previous_id, first.id);
  EXPECT_EQ(ReadIdFile(), "causalkv-node 1 " + FormatNodeId(second.id) + " running\n");
}

TEST_F(NodeIdentityTest, HandWrittenFilesInTheDocumentedFormat) {
  WriteIdFile("causalkv-node 1 0123456789abcdef clean\n");
  NodeIdentity identity = Start();
  EXPECT_EQ(identity.origin, Origin::kResumed);
  EXPECT_EQ(identity.id, 0x0123456789abcdefull);

  WriteIdFile("causalkv-node 1 0123456789abcdef running\n");
  identity = Start();
  EXPECT_EQ(identity.origin, Origin::kReplacedAfterUncleanStop);
  EXPECT_EQ(identity.previous_id, 0x0123456789abcdefull);
  EXPECT_NE(identity.id, 0x0123456789abcdefull);
}

TEST_F(NodeIdentityTest, UnreadableFileGivesANewId) {
  for (const char* garbage : {
           "",
           "garbage",
           "causalkv-node 1 0123456789abcdef clean",      // no newline
           "causalkv-node 2 0123456789abcdef clean\n",    // unknown format version
           "causalkv-node 1 0123456789ABCDEF clean\n",    // uppercase
           "causalkv-node 1 0123456789abcde clean\n",     // 15 digits
           "causalkv-node 1 0000000000000000 clean\n",    // id 0
           "causalkv-node 1 0123456789abcdef stopped\n",  // unknown state
           "causalkv-node 1 0123456789abcdef clean \n",   // trailing blank
           "causalkv-node 1 0123456789abcdef clean\nx\n",
           "causalkv-node 1 0123456789abcdef  clean\n",
       }) {
    WriteIdFile(garbage);
    const NodeIdentity identity = Start();
    EXPECT_EQ(identity.origin, Origin::kReplacedUnreadable) << garbage;
    EXPECT_NE(identity.id, 0u) << garbage;
    EXPECT_NE(identity.id, 0x0123456789abcdefull) << garbage;
    EXPECT_EQ(identity.previous_id, 0u) << garbage;
    EXPECT_EQ(ReadIdFile(), "causalkv-node 1 " + FormatNodeId(identity.id) + " running\n")
        << garbage;
  }
}

TEST_F(NodeIdentityTest, IdsAreNonZeroAndDiffer) {
  std::set<uint64_t> ids;
  for (int i = 0; i < 50; ++i) {
    fs::remove(IdPath());
    const NodeIdentity identity = Start();
    ASSERT_EQ(identity.origin, Origin::kNew);
    ASSERT_NE(identity.id, 0u);
    ids.insert(identity.id);
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST_F(NodeIdentityTest, MissingDirectoryIsAnErrorNamingTheFile) {
  const std::string missing = dir_ + "/no-such-dir";
  NodeIdentity identity;
  identity.id = 42;
  std::string error;
  EXPECT_FALSE(StartNodeIdentity(missing, &identity, &error));
  EXPECT_EQ(error, "cannot create " + missing + "/node.id.tmp: No such file or directory");
  EXPECT_EQ(identity.id, 42u);  // *out untouched on failure
  EXPECT_FALSE(MarkNodeIdentityClean(missing, 1, &error));
  EXPECT_EQ(error, "cannot create " + missing + "/node.id.tmp: No such file or directory");
}

TEST_F(NodeIdentityTest, DirectoryThatIsAFileIsAnError) {
  const std::string file = dir_ + "/plain-file";
  std::ofstream(file) << "x";
  NodeIdentity identity;
  std::string error;
  EXPECT_FALSE(StartNodeIdentity(file, &identity, &error));
  EXPECT_EQ(error, "cannot open " + file + "/node.id: Not a directory");
}

TEST_F(NodeIdentityTest, UnwritableDirectoryIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write any directory";
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  NodeIdentity identity;
  std::string error;
  EXPECT_FALSE(StartNodeIdentity(dir_, &identity, &error));
  EXPECT_EQ(error, "cannot create " + dir_ + "/node.id.tmp: Permission denied");
}

TEST_F(NodeIdentityTest, AFileThatCannotBeReadIsAnErrorNotANewId) {
  // A directory where node.id should be: open works, read fails (EISDIR).
  fs::create_directory(IdPath());
  NodeIdentity identity;
  std::string error;
  EXPECT_FALSE(StartNodeIdentity(dir_, &identity, &error));
  EXPECT_EQ(error, "cannot read " + IdPath() + ": Is a directory");
}

TEST_F(NodeIdentityTest, MarkCleanRefusesIdZero) {
  std::string error;
  EXPECT_FALSE(MarkNodeIdentityClean(dir_, 0, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(fs::exists(IdPath()));
}

}  // namespace
}  // namespace causalkv::persist
