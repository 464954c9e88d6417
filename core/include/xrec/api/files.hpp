#pragma once
// File helpers for dataset plugins: locating data files in the data roots and reading them whole.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xrec/api/context.hpp"
#include "xrec/api/export.hpp"

namespace xrec {

// An absolute path is used as is; a relative one is looked up in ctx.data_roots in order. Throws
// xrec::InputError listing every folder searched and how to provide the data (`hint`) when not found.
XREC_API std::string find_data_file(const std::string& path, const PluginContext& ctx, const std::string& hint = "");

// The whole file; throws xrec::InputError naming the path when it cannot be read (or is a folder).
// Records content_fingerprint() of what it returned, for last_read_fingerprint().
XREC_API std::string read_file(const std::string& path);

// A 64-bit FNV-1a hash of `text` (not cryptographic: it tells a file rewritten since it was read).
XREC_API uint64_t content_fingerprint(std::string_view text);

// The fingerprint of the content the last read_file(path) in this process returned (path compared in
// absolute, normalised form), or nullopt if this process never read it. The data cache stores a source
// file's sha256 only if the file still holds what the dataset read.
XREC_API std::optional<uint64_t> last_read_fingerprint(const std::string& path);

// Splits text into lines (without '\n' / '\r\n'); the line number of lines[i] is i + 1.
XREC_API std::vector<std::string_view> split_lines(const std::string& text);

// Splits on runs of spaces and tabs.
XREC_API std::vector<std::string_view> split_whitespace(std::string_view line);

}  // namespace xrec
