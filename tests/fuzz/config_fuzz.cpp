// libFuzzer target: the config loader and its overrides. Input: YAML text, then optionally '\0' and
// override strings separated by '\0' (`key.path=VALUE`). Any exception other than xrec::Error (the
// loader's clear errors) or a crash is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t cut = input.find('\0');
  const std::string yaml = input.substr(0, cut);
  std::vector<std::string> overrides;
  for (size_t at = cut; at != std::string::npos && at < input.size();) {
    const size_t next = input.find('\0', at + 1);
    overrides.push_back(input.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
    at = next;
  }
  try {
    xrec::Config c = xrec::Config::parse(yaml, "<fuzz>", overrides);
    (void)c.plugin_paths();
  } catch (const xrec::Error&) {
  }
  return 0;
}
