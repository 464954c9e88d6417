// libFuzzer target: the dataset catalog YAML (read_catalog_file, the public function that parses a
// catalog file). Input: the file's bytes.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "xrec/api/errors.hpp"
#include "xrec/catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("xrec-catalog-fuzz-" + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), size);
  try {
    for (auto& entry : xrec::read_catalog_file(path)) xrec::check_catalog_entry(entry);
  } catch (const xrec::Error&) {
  }
  return 0;
}
