// Data file lookup and reading: folders named as such, fingerprints of what was read.
#include "xrec/api/files.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "support/temp_dir.hpp"
#include "xrec/api/errors.hpp"

namespace xrec {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

// Issue 12 item 12: a folder where a data file is expected was reported as "does not exist".
TEST(Files, AFolderIsReportedAsAFolder) {
  test::TempDir dir("files-folder");
  dir.write("data/Beauty.txt/inner", "x");  // Beauty.txt is a folder
  PluginContext ctx;
  ctx.data_roots = {dir.path("data")};
  const std::string relative = error_of([&] { find_data_file("Beauty.txt", ctx); });
  EXPECT_NE(relative.find("'Beauty.txt' is a folder, expected a file"), std::string::npos) << relative;
  EXPECT_EQ(relative.find("not found"), std::string::npos) << relative;
  const std::string absolute = error_of([&] { find_data_file(dir.path("data/Beauty.txt"), ctx); });
  EXPECT_NE(absolute.find("is a folder, expected a file"), std::string::npos) << absolute;
  const std::string read = error_of([&] { read_file(dir.path("data/Beauty.txt")); });
  EXPECT_NE(read.find("is a folder, expected a file"), std::string::npos) << read;
  // A missing file is still "not found", listing the roots.
  const std::string missing = error_of([&] { find_data_file("Toys.txt", ctx); });
  EXPECT_NE(missing.find("'Toys.txt' not found; looked in:"), std::string::npos) << missing;
}

TEST(Files, ReadFileRecordsTheFingerprintOfWhatItReturned) {
  test::TempDir dir("files-fp");
  const std::string a = dir.write("a.txt", "1 2\n");
  EXPECT_FALSE(last_read_fingerprint(a).has_value());
  EXPECT_EQ(read_file(a), "1 2\n");
  EXPECT_EQ(last_read_fingerprint(a), content_fingerprint("1 2\n"));
  EXPECT_EQ(last_read_fingerprint(dir.path("./a.txt")), content_fingerprint("1 2\n"));  // normalised path
  EXPECT_NE(content_fingerprint("1 2\n"), content_fingerprint("1 3\n"));
  EXPECT_EQ(content_fingerprint(""), 1469598103934665603ull);  // FNV-1a offset basis
}

}  // namespace
}  // namespace xrec
