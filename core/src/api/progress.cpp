#include "xrec/api/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>

namespace xrec {

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kLiveEvery = std::chrono::milliseconds(100);  // redraws per second on a terminal: 10
constexpr auto kPlainEvery = std::chrono::seconds(30);       // one line per 30 s in a log

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}
}  // namespace

bool progress_live() {
  if (const char* env = std::getenv("XREC_PROGRESS"); env && *env) return std::string(env) != "0";
  return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(Clock::now()),
      last_draw_(start_),
      out_(stderr),
      live_(progress_live()) {
  if (const char* env = std::getenv("XREC_PROGRESS"); env && std::string(env) == "0") out_ = nullptr;
}

Progress::~Progress() { finish(); }

void Progress::set_output(std::FILE* out, bool live) {
  out_ = out;
  live_ = live;
}

bool Progress::due() const {
  if (!out_ || finished_) return false;
  return Clock::now() - last_draw_ >= (live_ ? std::chrono::duration_cast<Clock::duration>(kLiveEvery)
                                             : std::chrono::duration_cast<Clock::duration>(kPlainEvery));
}

void Progress::set(const std::string& name, double value) {
  for (auto& [k, v] : values_)
    if (k == name) {
      v = value;
      return;
    }
  values_.emplace_back(name, value);
}

void Progress::tick(int64_t n) {
  const bool draw_now = due();
  done_ += n;
  if (draw_now) draw(false);
}

std::string Progress::line() const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  std::string s = label_;
  char buf[96];
  if (total_ > 0) {
    constexpr int kWidth = 24;
    const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int full = static_cast<int>(frac * kWidth);
    s +=
        " |" + std::string(static_cast<size_t>(full), '#') + std::string(static_cast<size_t>(kWidth - full), '-') + "|";
    std::snprintf(buf, sizeof buf, " %lld/%lld %s", static_cast<long long>(done_), static_cast<long long>(total_),
                  unit_.c_str());
  } else {
    std::snprintf(buf, sizeof buf, " %lld %s", static_cast<long long>(done_), unit_.c_str());
  }
  s += buf;
  std::snprintf(buf, sizeof buf, rate >= 100 ? " %.0f/s" : " %.1f/s", rate);
  s += buf;
  if (total_ > 0 && rate > 0) s += " ETA " + clock_text(static_cast<double>(total_ - done_) / rate);
  for (auto& [k, v] : values_) {
    std::snprintf(buf, sizeof buf, " %s %.4g", k.c_str(), v);
    s += buf;
  }
  return s;
}

void Progress::draw(bool final_line) {
  if (!out_) return;
  last_draw_ = Clock::now();
  if (live_) {
    // \r and "erase to end of line": the bar is redrawn in place.
    std::fprintf(out_, "\r%s\x1b[K", final_line ? "" : line().c_str());
  } else if (!final_line) {
    std::fprintf(out_, "%s\n", line().c_str());
  }
  drawn_ = !final_line;
  std::fflush(out_);
}

void Progress::finish() {
  if (finished_) return;
  if (live_ && drawn_) draw(true);
  finished_ = true;
}

}  // namespace xrec
