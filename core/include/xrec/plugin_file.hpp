#pragma once
// Reads a plugin library's descriptor from the FILE, without loading it: the facts XREC_PLUGIN writes
// into the library's `.xrec_plugin` ELF section. The loader checks them before dlopen, so a library
// built for another host never runs a line of its code, and a truncated or malformed ELF file (which
// can crash dlopen itself) is rejected here.
//
// The reader is LibTorch-free and treats the file as untrusted: every offset and size is checked
// against the bytes actually read, and every malformed input is an error message, never a crash.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace xrec {

// Section layout (format 1): "xrec-plugin\0" then "key=value\0" entries; NUL padding may follow.
inline constexpr const char* kPluginSectionName = ".xrec_plugin";
inline constexpr const char* kPluginSectionMagic = "xrec-plugin";
inline constexpr int kPluginSectionFormat = 1;
// Files larger than this are refused before being read.
inline constexpr uint64_t kMaxPluginFileBytes = uint64_t(1) << 30;

struct PluginFileDescriptor {
  std::string api_version, name, version, description, xrec_version, torch_version, compiler, cxx_abi,
      device;
};

struct PluginFileResult {
  std::optional<PluginFileDescriptor> descriptor;  // set when the file is a well-formed xrec plugin
  std::string error;                                // otherwise why not, e.g. "truncated: ..."
  std::string sha256;                               // of the bytes that were read and checked ("" on error)
};

// Parses an in-memory image of a library file.
PluginFileResult parse_plugin_image(const std::string& bytes);
// Reads `path` (at most kMaxPluginFileBytes) and parses it.
PluginFileResult read_plugin_file(const std::string& path);

// Parses the section's content alone; "" on success, else the problem. Exposed for tests.
std::string parse_plugin_section(const std::string& section, PluginFileDescriptor& out);

}  // namespace xrec
