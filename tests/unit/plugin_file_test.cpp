#include "xrec/plugin_file.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "xrec/api/version.hpp"
#include "xrec/sha256.hpp"
#include "support/elf_layout.hpp"

namespace xrec {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string good_path() { return std::string(XREC_TEST_FIXTURE_PLUGINS) + "/good/fixture_good.so"; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void put(std::string& b, size_t off, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[off + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t get(const std::string& b, size_t off, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[off + i]);
  return v;
}

// The section content as XREC_PLUGIN writes it, from a list of entries.
std::string section(const std::vector<std::string>& entries, bool magic = true) {
  std::string s = magic ? std::string("xrec-plugin") + '\0' : std::string();
  for (auto& e : entries) s += e + '\0';
  return s + '\0';
}
std::vector<std::string> full_entries() {
  return {"format=1",  "api_version=2",    "name=p", "version=1.0", "description=d", "xrec_version=0.1.0",
          "torch_version=1.13.0", "compiler=gcc-12", "cxx_abi=x", "device=cpu"};
}

TEST(PluginFile, ReadsTheDescriptorOfABuiltPlugin) {
  const PluginFileResult r = read_plugin_file(good_path());
  ASSERT_TRUE(r.descriptor) << r.error;
  const PluginFileDescriptor& d = *r.descriptor;
  EXPECT_EQ(d.api_version, std::to_string(XREC_API_VERSION));
  EXPECT_EQ(d.name, "fixture_good");
  EXPECT_EQ(d.version, "1.2.3");
  EXPECT_EQ(d.description, "Test fixture: a well-formed plugin");
  EXPECT_EQ(d.xrec_version, XREC_VERSION_STRING);
  EXPECT_EQ(d.torch_version, XREC_TORCH_VERSION);
  EXPECT_EQ(d.compiler, XREC_COMPILER_ID);
  EXPECT_EQ(d.cxx_abi, XREC_CXX_ABI);
  EXPECT_EQ(d.device, XREC_DEVICE_KIND);
  EXPECT_EQ(r.sha256, sha256_file(good_path()));
}

TEST(PluginFile, FakedFactsAreReadFromTheFile) {
  const PluginFileResult r =
      read_plugin_file(std::string(XREC_TEST_FIXTURE_PLUGINS) + "/runs_nothing/fixture_runs_nothing.so");
  ASSERT_TRUE(r.descriptor) << r.error;
  EXPECT_EQ(r.descriptor->torch_version, "0.4.1");
  EXPECT_EQ(r.descriptor->name, "fixture_runs_nothing");
}

TEST(PluginFile, EveryTruncationOfARealPluginIsRejectedCleanly) {
  const std::string bytes = slurp(good_path());
  ASSERT_GT(bytes.size(), 4096u);
  // Every offset in the headers, then a stride through the body, then the last bytes.
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 256; ++n) cuts.push_back(n);
  for (size_t n = 256; n < bytes.size(); n += 97) cuts.push_back(n);
  for (size_t n = bytes.size() - 64; n < bytes.size(); ++n) cuts.push_back(n);
  for (size_t n : cuts) {
    const PluginFileResult r = parse_plugin_image(bytes.substr(0, n));
    ASSERT_FALSE(r.descriptor) << "a file cut to " << n << " of " << bytes.size() << " bytes was accepted";
    ASSERT_FALSE(r.error.empty()) << n;
    EXPECT_TRUE(r.sha256.empty());
  }
  // A cut inside the loadable segments names them.
  const uint64_t loaded = xrec::test::loadable_end(bytes);
  ASSERT_GT(loaded, 4096u);
  EXPECT_THAT(parse_plugin_image(bytes.substr(0, loaded / 2)).error, StartsWith("truncated ELF file"));
  EXPECT_TRUE(parse_plugin_image(bytes).descriptor);
}

TEST(PluginFile, RandomBytesAndMutationsNeverCrash) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string junk(rng() % 2048, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (i % 2 && junk.size() >= 4) std::memcpy(junk.data(), "\x7f" "ELF", 4);
    EXPECT_FALSE(parse_plugin_image(junk).error.empty());
  }
  // Flip bytes of the real headers (ELF, program and section tables) one at a time: accepted or an
  // error, never a crash or an out-of-bounds read (run under ASan by the sanitizer job).
  const std::string bytes = slurp(good_path());
  const uint64_t shoff = get(bytes, 40, 8);
  std::vector<size_t> where;
  for (size_t i = 0; i < 64 + 56 * 4; ++i) where.push_back(i);
  for (size_t i = shoff; i < bytes.size(); ++i) where.push_back(i);
  for (size_t i : where) {
    std::string m = bytes;
    m[i] = static_cast<char>(~m[i]);
    const PluginFileResult r = parse_plugin_image(m);
    EXPECT_TRUE(r.descriptor || !r.error.empty()) << i;
  }
}

TEST(PluginFile, NotAnElfFile) {
  EXPECT_EQ(parse_plugin_image("").error, "not an ELF file (the file is empty)");
  EXPECT_EQ(parse_plugin_image("#!/bin/sh\n").error, "not an ELF file (10 bytes, shorter than an ELF header)");
  EXPECT_EQ(parse_plugin_image(std::string(100, 'x')).error, "not an ELF file (no ELF magic)");
  std::string b = slurp(good_path());
  std::string wrong_class = b;
  wrong_class[4] = 1;
  EXPECT_EQ(parse_plugin_image(wrong_class).error, "not a 64-bit ELF file (class 1)");
  std::string big_endian = b;
  big_endian[5] = 2;
  EXPECT_EQ(parse_plugin_image(big_endian).error, "not a little-endian ELF file (data encoding 2)");
  std::string exec = b;
  put(exec, 16, 2, 2);
  EXPECT_EQ(parse_plugin_image(exec).error, "not a shared library (ELF type 2)");
}

TEST(PluginFile, TablesPointingPastTheEnd) {
  const std::string b = slurp(good_path());
  std::string sh = b;
  put(sh, 40, b.size() - 10, 8);  // e_shoff near the end
  EXPECT_THAT(parse_plugin_image(sh).error, StartsWith("truncated or malformed ELF file (section headers at "));
  std::string huge = b;
  put(huge, 40, ~uint64_t(0) - 5, 8);  // offset + size would wrap around
  EXPECT_THAT(parse_plugin_image(huge).error, StartsWith("truncated or malformed ELF file (section headers"));
  std::string ph = b;
  put(ph, 32, b.size(), 8);  // e_phoff at the end
  EXPECT_THAT(parse_plugin_image(ph).error, StartsWith("truncated or malformed ELF file (program headers at "));
  std::string strndx = b;
  put(strndx, 62, get(b, 60, 2), 2);  // e_shstrndx == e_shnum
  EXPECT_THAT(parse_plugin_image(strndx).error, HasSubstr("section name table index"));
  std::string no_sections = b;
  put(no_sections, 60, 0, 2);
  EXPECT_EQ(parse_plugin_image(no_sections).error,
            "not an xrec plugin (no section table, so no .xrec_plugin section)");
}

TEST(PluginFile, ALibraryWithoutTheSectionIsNotAPlugin) {
  const PluginFileResult r =
      read_plugin_file(std::string(XREC_TEST_FIXTURE_PLUGINS) + "/no_entry/fixture_no_entry.so");
  EXPECT_FALSE(r.descriptor);
  EXPECT_EQ(r.error, "not an xrec plugin (no .xrec_plugin section)");
}

TEST(PluginFile, MissingAndUnreadableFiles) {
  EXPECT_THAT(read_plugin_file("/nonexistent/x.so").error, StartsWith("cannot open: "));
  EXPECT_THAT(read_plugin_file(XREC_TEST_FIXTURE_PLUGINS).error, ::testing::Not(::testing::IsEmpty()));  // a folder
}

TEST(PluginFile, SectionContent) {
  PluginFileDescriptor d;
  EXPECT_EQ(parse_plugin_section(section(full_entries()), d), "");
  EXPECT_EQ(d.name, "p");
  EXPECT_EQ(d.torch_version, "1.13.0");
  EXPECT_EQ(parse_plugin_section(section(full_entries(), false), d),
            "malformed .xrec_plugin section (no 'xrec-plugin' magic)");
  EXPECT_EQ(parse_plugin_section("", d), "malformed .xrec_plugin section (no 'xrec-plugin' magic)");

  auto without = [](const std::string& key) {
    std::vector<std::string> e;
    for (auto& x : full_entries())
      if (x.rfind(key + "=", 0) != 0) e.push_back(x);
    return section(e);
  };
  EXPECT_EQ(parse_plugin_section(without("device"), d), "malformed .xrec_plugin section (missing key 'device')");
  EXPECT_EQ(parse_plugin_section(without("format"), d), "malformed .xrec_plugin section (missing key 'format')");
  auto e = full_entries();
  e[0] = "format=2";
  EXPECT_EQ(parse_plugin_section(section(e), d),
            ".xrec_plugin section format 2, this host reads format 1 (rebuild the plugin against this xrec)");
  e = full_entries();
  e.push_back("name=q");
  EXPECT_EQ(parse_plugin_section(section(e), d), "malformed .xrec_plugin section (key 'name' twice)");
  e = full_entries();
  e.push_back("no_equals");
  EXPECT_EQ(parse_plugin_section(section(e), d), "malformed .xrec_plugin section (entry without 'key=')");
  e = full_entries();
  e.push_back("name2=a\nb");
  EXPECT_EQ(parse_plugin_section(section(e), d), "malformed .xrec_plugin section (control character in 'name2')");
  std::string unterminated = section(full_entries());
  unterminated.pop_back();
  unterminated += "x=y";
  EXPECT_EQ(parse_plugin_section(unterminated, d), "malformed .xrec_plugin section (last entry is not NUL-terminated)");
  std::string after_end = section(full_entries()) + "late=1" + '\0';
  EXPECT_EQ(parse_plugin_section(after_end, d), "malformed .xrec_plugin section (data after the end marker)");
  // Unknown keys are ignored: a newer plugin may say more, the format number guards incompatible changes.
  e = full_entries();
  e.push_back("future=yes");
  EXPECT_EQ(parse_plugin_section(section(e), d), "");
}

}  // namespace
}  // namespace xrec
