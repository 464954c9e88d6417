// `xrec report` through the real binary: output, exit codes, and nothing written on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "report/report_fixture.hpp"
#include "support/temp_dir.hpp"

namespace xrec {
namespace {

struct Result {
  int code = -1;
  std::string out;
};

Result xrec_cli(const std::string& args, const test::TempDir& dir) {
  const std::string log = dir.path("cli.log");
  const int rc = std::system((std::string(XREC_TEST_XREC_BIN) + " " + args + " >" + log + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, s.str()};
}

TEST(ReportCli, TransferTableHtmlFileAndBadInput) {
  test::TempDir dir("report-cli");
  const std::string db = dir.path("xrec.db");
  {
    Store store(db);
    test::build_report_fixture(store);
  }
  auto t = xrec_cli("report transfer --sweep ant-demo --db " + db, dir);
  EXPECT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("finetune"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("negative transfer"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("-18.3% ± 1.7%"), std::string::npos) << t.out;  // (0.08/0.10, 0.09/0.11, 0.10/0.12) - 1

  auto h = xrec_cli("report html --sweep ant-demo --db " + db + " --out " + dir.path("r.html"), dir);
  EXPECT_EQ(h.code, 0) << h.out;
  EXPECT_NE(h.out.find("9 runs, 5 charts"), std::string::npos) << h.out;
  EXPECT_GT(std::filesystem::file_size(dir.path("r.html")), 800000u);

  for (const std::string& bad : {"report html --where 'nope = 1' --db " + db + " --out " + dir.path("bad.html"),
                                 "report html 999 --db " + db + " --out " + dir.path("bad.html"),
                                 "report html 1 --db " + dir.path("missing.db") + " --out " + dir.path("bad.html"),
                                 "report html 1 --db " + db + " --format pdf --out " + dir.path("bad.html"),
                                 "report transfer --sweep nope --db " + db}) {
    auto b = xrec_cli(bad, dir);
    EXPECT_EQ(b.code, 2) << bad << "\n" << b.out;
    EXPECT_NE(b.out.find("error:"), std::string::npos) << b.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path("bad.html")));
  EXPECT_FALSE(std::filesystem::exists(dir.path("missing.db")));
}

}  // namespace
}  // namespace xrec
