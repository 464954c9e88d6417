// libFuzzer target: the data-cache entry reader. read_domain() on arbitrary bytes, and DataCache::get()
// on an entry file holding them: both must answer with xrec::Error / a miss, never crash or allocate
// without bound.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "xrec/api/errors.hpp"
#include "xrec/data/data_cache.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    std::istringstream in(bytes);
    (void)xrec::engine::read_domain(in);
  } catch (const xrec::Error&) {
  }
  static const std::string dir =
      (std::filesystem::temp_directory_path() / ("xrec-cache-fuzz-" + std::to_string(::getpid()))).string();
  static const xrec::engine::DataCache cache(dir, std::make_shared<spdlog::logger>(
                                                      "fuzz", std::make_shared<spdlog::sinks::null_sink_mt>()));
  static const bool made = std::filesystem::create_directories(dir) || true;
  (void)made;
  std::ofstream(cache.path_for("k"), std::ios::binary | std::ios::trunc) << bytes;
  (void)cache.get("k");  // never throws: a bad entry is a miss
  return 0;
}
