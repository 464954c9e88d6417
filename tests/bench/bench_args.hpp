#pragma once
// Command-line parsing shared by the benchmarks: `--flag value` pairs and bare switches, every bad value a
// usage error (exit 2) that names the flag, what it expects and what it got.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace xrec::bench {

class Args {
 public:
  // program: the name in messages; usage: the usage text printed with every problem.
  Args(std::string program, std::string usage, int argc, char** argv)
      : program_(std::move(program)), usage_(std::move(usage)), args_(argv + 1, argv + argc) {}

  // Moves to the next argument; false when there is none left.
  bool next() {
    if (++i_ >= args_.size()) return false;
    flag_ = args_[i_];
    return true;
  }
  const std::string& flag() const { return flag_; }
  bool is(const char* name) const { return flag_ == name; }

  std::string value() {
    if (i_ + 1 >= args_.size()) fail(flag_ + " needs a value");
    return args_[++i_];
  }
  int64_t integer(int64_t at_least) {
    const std::string v = value();
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || n < at_least)
      fail(flag_ + " expects an integer >= " + std::to_string(at_least) + ", got '" + v + "'");
    return static_cast<int64_t>(n);
  }
  std::string choice(const std::vector<std::string>& allowed) {
    const std::string v = value();
    std::string list;
    for (auto& a : allowed) {
      if (v == a) return v;
      list += (list.empty() ? "" : "|") + a;
    }
    fail(flag_ + " expects " + list + ", got '" + v + "'");
  }
  // --help / -h print the usage and exit 2; anything else not handled by the caller is unknown.
  [[noreturn]] void unknown() const {
    if (flag_ == "--help" || flag_ == "-h") fail("help");
    fail("unknown argument '" + flag_ + "'");
  }
  [[noreturn]] void fail(const std::string& problem) const {
    std::cerr << program_ << ": " << problem << "\n" << usage_;
    std::exit(2);
  }

 private:
  std::string program_, usage_;
  std::vector<std::string> args_;
  size_t i_ = static_cast<size_t>(-1);
  std::string flag_;
};

}  // namespace xrec::bench
