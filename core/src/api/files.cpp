#include "xrec/api/files.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "xrec/api/errors.hpp"

namespace fs = std::filesystem;

namespace xrec {

std::string find_data_file(const std::string& path, const PluginContext& ctx, const std::string& hint) {
  std::error_code ec;
  if (fs::path(path).is_absolute()) {
    if (fs::is_regular_file(path, ec)) return path;
    throw InputError("data file '" + path + "' does not exist" + (hint.empty() ? "" : ". " + hint));
  }
  for (auto& root : ctx.data_roots) {
    fs::path p = fs::path(root) / path;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  std::string where;
  for (auto& root : ctx.data_roots) where += "\n  " + root;
  if (where.empty()) where = "\n  (no data folder exists: set XREC_DATA, put the data in ../shared/data, or set data_root)";
  const char* env = std::getenv("XREC_DATA");
  throw InputError("data file '" + path + "' not found; looked in:" + where + "\n" +
                   "Put the file under one of these folders, or point XREC_DATA (now " +
                   (env && *env ? std::string("'") + env + "'" : std::string("unset")) +
                   ") or the config's data_root at the folder that holds it." + (hint.empty() ? "" : "\n" + hint));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError("error while reading '" + path + "'");
  return ss.str();
}

std::vector<std::string_view> split_lines(const std::string& text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    size_t stop = end;
    if (stop > start && text[stop - 1] == '\r') --stop;
    lines.emplace_back(text.data() + start, stop - start);
    start = end + 1;
  }
  return lines;
}

std::vector<std::string_view> split_whitespace(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace xrec
