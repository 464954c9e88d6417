// SHA-256 against FIPS 180-4 / NIST vectors, every padding boundary, and file hashing.
#include "xrec/sha256.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "xrec/api/errors.hpp"

namespace xrec {
namespace {

// Bytes 0, 1, 2, ... mod 251: no run of equal bytes hides a byte-order bug.
std::string counting_bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}

TEST(Sha256, NistVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(
      sha256_hex(
          "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsm"
          "nopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// 55/56 and 119/120 bytes decide whether the length still fits the last block; 63/64/65 and 127/128
// straddle block ends. Expected digests from Python's hashlib.
TEST(Sha256, PaddingBoundaries) {
  const std::pair<size_t, const char*> cases[] = {
      {55, "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59"},
      {56, "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562"},
      {63, "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488"},
      {64, "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108"},
      {65, "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781"},
      {119, "da18797ed7c3a777f0847f429724a2d8cd5138e6ed2895c3fa1a6d39d18f7ec6"},
      {120, "f52b23db1fbb6ded89ef42a23ce0c8922c45f25c50b568a93bf1c075420bbb7c"},
      {127, "92ca0fa6651ee2f97b884b7246a562fa71250fedefe5ebf270d31c546bfea976"},
      {128, "471fb943aa23c511f6f72f8d1652d9c880cfa392ad80503120547703e56a2be5"},
  };
  for (const auto& [n, digest] : cases) EXPECT_EQ(sha256_hex(counting_bytes(n)), digest) << n << " bytes";
}

TEST(Sha256, BinaryBytesIncludingNul) {
  EXPECT_NE(sha256_hex(std::string("a\0b", 3)), sha256_hex("ab"));
  EXPECT_EQ(sha256_hex(std::string("a\0b", 3)).size(), 64u);
}

class Sha256File : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xrec_sha256_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Sha256File, HashesContentsAcrossReadChunks) {
  // 256000 bytes: several 64 KiB reads with a partial last one.
  std::string bytes;
  for (int i = 0; i < 1000; ++i)
    for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  const std::string path = dir_ + "/data.bin";
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(sha256_file(path), "b57b64b198d5d59ce5a22a9b9f25e72a7d081476d432051aa923f3dbebb90934");
  EXPECT_EQ(sha256_file(path), sha256_hex(bytes));
}

TEST_F(Sha256File, EmptyFile) {
  const std::string path = dir_ + "/empty";
  std::ofstream(path).close();
  EXPECT_EQ(sha256_file(path), sha256_hex(""));
}

TEST_F(Sha256File, MissingFileAndFolderThrowWithPath) {
  const std::string missing = dir_ + "/nope.so";
  try {
    sha256_file(missing);
    FAIL() << "no exception for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  try {
    sha256_file(dir_);
    FAIL() << "no exception for a folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xrec
