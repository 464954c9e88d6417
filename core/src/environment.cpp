#include "xrec/environment.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

namespace xrec {

namespace {
std::string run_command(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::string out;
  std::array<char, 256> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string git_sha() {
#ifdef XREC_SOURCE_DIR
  const std::string dir = XREC_SOURCE_DIR;
  if (!std::filesystem::exists(dir + "/.git")) return "unknown";
  std::string sha = run_command("git -C '" + dir + "' rev-parse HEAD 2>/dev/null");
  if (sha.empty()) return "unknown";
  if (!run_command("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty()) sha += "-dirty";
  return sha;
#else
  return "unknown";
#endif
}
}  // namespace

std::string loaded_library(const std::string& needle) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    auto name = std::filesystem::path(path).filename().string();
    if (name.find(needle) == std::string::npos) continue;
    std::error_code ec;
    auto real = std::filesystem::canonical(path, ec);
    return ec ? path : real.string();
  }
  return "";
}

HostFacts collect_host_facts() {
  HostFacts f;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) f.hostname = host;
  f.git_sha = git_sha();
  // Debian's LibTorch calls whatever libblas.so.3 the alternatives system points at (reference BLAS or
  // OpenBLAS); MKL builds load libmkl instead.
  for (const char* lib : {"libblas.so", "libopenblas", "libmkl_rt", "libmkl_core"}) {
    f.blas = loaded_library(lib);
    if (!f.blas.empty()) break;
  }
  if (f.blas.empty()) f.blas = "unknown";
  f.cpu_count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return f;
}

std::string utc_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace xrec
