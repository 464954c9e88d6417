#pragma once
// Progress of long loops (issue 16, item 6): the trainer's epochs, evaluation, and any custom loop a
// plugin runs (meta-training, downloads). On a terminal (stderr is a TTY) a live bar redrawn in place:
//   [target] epoch 3/200 |########------| 412/1024 batches 38.2/s ETA 0:16 loss 4.1234
// Otherwise (logs, CI, sweep children) no redraws: a plain line at most every 30 s, so only loops that
// long show up in a log. $XREC_PROGRESS=0 turns bars off, =1 draws them even without a TTY (tests).
// LibTorch-free and context-free: plugins use it directly, no TransferContext needed.
//
//   xrec::Progress bar("[meta] outer steps", steps, "steps");
//   for (...) { ...; if (bar.due()) bar.set("loss", loss.item<double>()); bar.tick(); }
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "xrec/api/export.hpp"

namespace xrec {

class XREC_API Progress {
 public:
  // total <= 0: unknown (no bar, no ETA). unit names the items ("batches", "users", "MB").
  Progress(std::string label, int64_t total, std::string unit = "items");
  ~Progress();  // clears a live bar (the caller's own summary line follows)
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // n more items done; redraws when due.
  void tick(int64_t n = 1);
  // True when the next tick will draw: read costly values (a loss that synchronises a GPU) only then.
  bool due() const;
  // A value shown after the rate ("loss 4.1234"), kept until set again.
  void set(const std::string& name, double value);
  // Clears the live bar now (before printing other lines).
  void finish();

  int64_t done() const { return done_; }
  // The line as drawn now (for tests): label, bar, count, rate, ETA, values.
  std::string line() const;

  // Where the output goes and how; for tests. Defaults: stderr, TTY per isatty and $XREC_PROGRESS.
  void set_output(std::FILE* out, bool live);

 private:
  void draw(bool final_line);

  std::string label_, unit_;
  int64_t total_ = 0, done_ = 0;
  std::vector<std::pair<std::string, double>> values_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::FILE* out_ = nullptr;
  bool live_ = false, drawn_ = false, finished_ = false;
};

// Whether a Progress made now draws a live bar (stderr is a TTY, unless $XREC_PROGRESS says otherwise).
XREC_API bool progress_live();

}  // namespace xrec
