#pragma once
// Facts about the machine and the build recorded with every run (torch-free).
#include <string>

namespace xrec {

struct HostFacts {
  std::string hostname;
  std::string git_sha;  // of the xrec source tree ("-dirty" appended when it has local changes), or "unknown"
  std::string blas;     // the BLAS library this process loaded (resolved path), or "unknown"
  int cpu_count = 1;
};

HostFacts collect_host_facts();

// The resolved path of the loaded library whose file name contains `needle` (from /proc/self/maps), or "".
std::string loaded_library(const std::string& needle);

// Current time as ISO-8601 UTC with milliseconds: 2026-11-23T11:20:03.123Z
std::string utc_now();

}  // namespace xrec
