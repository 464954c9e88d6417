#pragma once
// File helpers for dataset plugins: locating data files in the data roots and reading them whole.
#include <string>
#include <string_view>
#include <vector>

#include "xrec/api/context.hpp"
#include "xrec/api/export.hpp"

namespace xrec {

// An absolute path is used as is; a relative one is looked up in ctx.data_roots in order. Throws
// xrec::InputError listing every folder searched and how to provide the data (`hint`) when not found.
XREC_API std::string find_data_file(const std::string& path, const PluginContext& ctx, const std::string& hint = "");

// The whole file; throws xrec::InputError naming the path when it cannot be read.
XREC_API std::string read_file(const std::string& path);

// Splits text into lines (without '\n' / '\r\n'); the line number of lines[i] is i + 1.
XREC_API std::vector<std::string_view> split_lines(const std::string& text);

// Splits on runs of spaces and tabs.
XREC_API std::vector<std::string_view> split_whitespace(std::string_view line);

}  // namespace xrec
