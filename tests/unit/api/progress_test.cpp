// Progress bars: the drawn line, live redraws in place on a terminal, no per-tick output in a log.
#include "xrec/api/progress.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

namespace xrec {
namespace {

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

TEST(Progress, LineShowsBarCountRateEtaAndValues) {
  Progress p("[target] epoch 3/200", 100, "batches");
  p.set_output(nullptr, false);
  p.tick(50);
  p.set("loss", 4.12345);
  p.set("loss", 3.5);  // replaced, not repeated
  const std::string line = p.line();
  EXPECT_EQ(line.rfind("[target] epoch 3/200 |############------------| 50/100 batches ", 0), 0u) << line;
  EXPECT_NE(line.find("/s ETA "), std::string::npos) << line;
  EXPECT_NE(line.find(" loss 3.5"), std::string::npos) << line;
  EXPECT_EQ(line.find("4.12"), std::string::npos) << line;
  EXPECT_EQ(p.done(), 50);
}

TEST(Progress, UnknownTotalHasNoBarNorEta) {
  Progress p("download", 0, "MB");
  p.set_output(nullptr, false);
  p.tick(7);
  const std::string line = p.line();
  EXPECT_EQ(line.rfind("download 7 MB ", 0), 0u) << line;
  EXPECT_EQ(line.find('|'), std::string::npos);
  EXPECT_EQ(line.find("ETA"), std::string::npos);
}

TEST(Progress, LiveRedrawsInPlaceAndClearsAtTheEnd) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("eval", 10, "cases");
    p.set_output(f, true);
    p.tick();  // not due yet: nothing drawn
    EXPECT_TRUE(contents(f).empty());
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    EXPECT_TRUE(p.due());
    p.tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    p.tick();
  }
  const std::string out = contents(f);
  std::fclose(f);
  EXPECT_EQ(out.find('\n'), std::string::npos) << "a live bar never starts a new line";
  EXPECT_NE(out.find("\reval |"), std::string::npos);
  EXPECT_NE(out.find(" 2/10 cases"), std::string::npos);
  EXPECT_NE(out.find(" 3/10 cases"), std::string::npos);
  // The destructor erased the bar: the last thing written is "\r" + erase-line.
  EXPECT_EQ(out.substr(out.size() - 4), "\r\x1b[K");
}

TEST(Progress, PlainOutputWritesNothingForShortLoops) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("epoch", 1000, "batches");
    p.set_output(f, false);
    for (int i = 0; i < 1000; ++i) p.tick();
    EXPECT_FALSE(p.due());  // a plain line is due every 30 s only
  }
  EXPECT_TRUE(contents(f).empty());
  std::fclose(f);
}

TEST(Progress, EnvironmentDecidesLiveBars) {
  setenv("XREC_PROGRESS", "1", 1);
  EXPECT_TRUE(progress_live());
  setenv("XREC_PROGRESS", "0", 1);
  EXPECT_FALSE(progress_live());
  Progress off("x", 5);
  off.tick(5);
  EXPECT_FALSE(off.due());  // $XREC_PROGRESS=0: never draws
  unsetenv("XREC_PROGRESS");
}

}  // namespace
}  // namespace xrec
