#include "xrec/api/files.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "xrec/api/errors.hpp"

namespace fs = std::filesystem;

namespace xrec {

namespace {

std::mutex g_reads_mutex;
std::map<std::string, uint64_t>& reads() {
  static std::map<std::string, uint64_t> r;  // absolute path -> fingerprint of the last content read
  return r;
}

std::string read_key(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  return (ec ? fs::path(path) : p).lexically_normal().string();
}

// " is a folder, expected a file" when `p` is a folder, else "".
std::string folder_note(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) ? " is a folder, expected a file" : "";
}

}  // namespace

std::string find_data_file(const std::string& path, const PluginContext& ctx, const std::string& hint) {
  std::error_code ec;
  if (fs::path(path).is_absolute()) {
    if (fs::is_regular_file(path, ec)) return path;
    const std::string folder = folder_note(path);
    throw InputError("data file '" + path + "'" + (folder.empty() ? " does not exist" : folder) +
                     (hint.empty() ? "" : ". " + hint));
  }
  std::string folders;  // roots where the name is a folder: reported as such, not as "not found"
  for (auto& root : ctx.data_roots) {
    fs::path p = fs::path(root) / path;
    if (fs::is_regular_file(p, ec)) return p.string();
    if (!folder_note(p).empty()) folders += "\n  " + p.string();
  }
  if (!folders.empty())
    throw InputError("data file '" + path + "' is a folder, expected a file:" + folders +
                     (hint.empty() ? "" : "\n" + hint));
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
  if (std::string folder = folder_note(path); !folder.empty()) throw InputError("'" + path + "'" + folder);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError("error while reading '" + path + "'");
  std::string text = std::move(ss).str();
  const uint64_t fp = content_fingerprint(text);
  const std::lock_guard<std::mutex> lock(g_reads_mutex);
  reads()[read_key(path)] = fp;
  return text;
}

uint64_t content_fingerprint(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::optional<uint64_t> last_read_fingerprint(const std::string& path) {
  const std::string key = read_key(path);
  const std::lock_guard<std::mutex> lock(g_reads_mutex);
  auto it = reads().find(key);
  if (it == reads().end()) return std::nullopt;
  return it->second;
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
