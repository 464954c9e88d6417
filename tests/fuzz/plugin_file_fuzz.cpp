// libFuzzer target: the plugin-descriptor reader (parse_plugin_image: ELF headers, program and section
// tables, the .xrec_plugin section). Input: a library file's bytes. Any input must give a result or an
// error message, never a crash or an out-of-bounds read.
#include <cstddef>
#include <cstdint>
#include <string>

#include "xrec/plugin_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)xrec::parse_plugin_image(bytes);
  return 0;
}
