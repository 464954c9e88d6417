#include "xrec/catalog.hpp"

#include <curl/curl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "xrec/api/errors.hpp"
#include "xrec/api/text.hpp"
#include "xrec/api/version.hpp"
#include "xrec/sha256.hpp"

namespace fs = std::filesystem;

namespace xrec {
namespace {

// ---- catalog files ----------------------------------------------------------------------------------

std::string at(const std::string& path, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return path + ": ";
  return path + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": ";
}

std::string scalar(const std::string& path, const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) throw InputError(at(path, node) + what + ": expected a scalar value");
  return node.Scalar();
}

void only_keys(const std::string& path, const YAML::Node& map, const std::vector<std::string>& keys,
               const std::string& what) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string k = scalar(path, it->first, what + ": a key");  // a list or map as a key is refused
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string known;
      for (auto& key : keys) known += (known.empty() ? "" : ", ") + key;
      throw InputError(at(path, it->first) + what + ": unknown key " + quote_token(k) + ", expected one of: " + known);
    }
  }
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// ---- downloads --------------------------------------------------------------------------------------

struct Transfer {
  std::FILE* out = nullptr;
  std::string label;
  bool progress = false;
  std::chrono::steady_clock::time_point last{};
  bool drawn = false;
  bool finished = false;  // the 100% line is drawn once
};

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  return std::fwrite(data, 1, size * count, t->out);  // a short count makes curl fail with a write error
}

std::string megabytes(curl_off_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / 1e6);
  return buf;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  const auto clock = std::chrono::steady_clock::now();
  const bool done = total > 0 && now >= total;
  if (t->finished || (!done && t->drawn && clock - t->last < std::chrono::milliseconds(100))) return 0;
  t->finished = done;
  if (now == 0 && !t->drawn) return 0;
  t->last = clock;
  t->drawn = true;
  std::string line = "\r  " + t->label + "  ";
  if (total > 0) {
    constexpr int kWidth = 30;
    const int fill = static_cast<int>(kWidth * now / total);
    line += "[" + std::string(static_cast<size_t>(fill), '#') + std::string(static_cast<size_t>(kWidth - fill), '-') +
            "] " + std::to_string(100 * now / total) + "%  " + megabytes(now) + "/" + megabytes(total) + " MB";
  } else {
    line += megabytes(now) + " MB";
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  return 0;
}

void curl_init_once() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) throw Error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
}

// Verified copy of a file found in another root (a root that holds only part of an entry's files).
void copy_verified(const std::string& from, const std::string& dest) {
  const std::string part = dest + ".part";
  std::error_code ec;
  fs::copy_file(from, part, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(part, dest, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(part, ignored);
    throw InputError("cannot copy '" + from + "' to '" + dest + "': " + ec.message());
  }
}

}  // namespace

// ---- the catalog ------------------------------------------------------------------------------------

std::string shipped_catalog_path() {
  if (const char* file = std::getenv("XREC_CATALOG_FILE"); file && *file) return file;
  std::vector<std::string> candidates;
  // An installation: <prefix>/bin/xrec next to <prefix>/share/xrec/configs (cmake/XrecInstall.cmake), found
  // relative to the executable so that a moved installation still works.
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back((exe.parent_path() / "../share/xrec/configs/catalog.yaml").lexically_normal().string());
#ifdef XREC_SOURCE_DIR
  candidates.push_back(std::string(XREC_SOURCE_DIR) + "/configs/catalog.yaml");  // a build tree
#endif
  for (auto& c : candidates)
    if (fs::is_regular_file(c, ec)) return c;
  std::string looked;
  for (auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c;
  throw InputError("the dataset catalog configs/catalog.yaml was not found (looked in: " + looked +
                   "); set XREC_CATALOG_FILE to its path");
}

const std::vector<CatalogEntry>& builtin_catalog() {
  static const std::vector<CatalogEntry> entries = read_catalog_file(shipped_catalog_path());
  return entries;
}

void check_catalog_entry(const CatalogEntry& e) {
  const std::string where = "catalog entry '" + e.name + "': ";
  if (e.name.empty()) throw InputError("catalog entry without a name");
  if (e.type.empty()) throw InputError(where + "no dataset type (the component that reads it)");
  if (e.files.empty()) throw InputError(where + "lists no files");
  for (auto& f : e.files) {
    const fs::path p(f.path);
    if (f.path.empty() || p.is_absolute() ||
        std::any_of(p.begin(), p.end(), [](const fs::path& part) { return part == ".."; }))
      throw InputError(where + "file path " + quote_token(f.path) + ", expected a path inside the data root (relative, no '..')");
    if (f.url.rfind("http://", 0) != 0 && f.url.rfind("https://", 0) != 0 && f.url.rfind("file://", 0) != 0)
      throw InputError(where + "file " + quote_token(f.path) + " has URL " + quote_token(f.url) + ", expected http://, https:// or file://");
    if (!is_hex64(f.sha256))
      throw InputError(where + "file " + quote_token(f.path) + " has sha256 " + quote_token(f.sha256) +
                       ", expected 64 lowercase hexadecimal digits");
  }
}

std::vector<CatalogEntry> read_catalog_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw InputError("cannot read the dataset catalog '" + path + "' (XREC_CATALOG, XREC_CATALOG_FILE or the "
                     "shipped configs/catalog.yaml)");
  } catch (const YAML::Exception& e) {
    throw InputError(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                     ": YAML syntax error: " + e.msg);
  }
  std::vector<CatalogEntry> entries;
  if (root.IsNull()) return entries;  // an empty file adds nothing
  if (!root.IsMap()) throw InputError(at(path, root) + "a dataset catalog is a map of dataset names to entries");
  for (auto it = root.begin(); it != root.end(); ++it) {
    CatalogEntry e;
    e.name = scalar(path, it->first, "dataset name");
    const YAML::Node n = it->second;
    const std::string what = "dataset '" + e.name + "'";
    if (!n.IsMap()) throw InputError(at(path, n) + what + ": expected a map with type, params and files");
    only_keys(path, n, {"description", "type", "params", "files"}, what);
    if (n["description"]) e.description = scalar(path, n["description"], what + ".description");
    if (!n["type"]) throw InputError(at(path, n) + what + ": missing key 'type' (the dataset component)");
    e.type = scalar(path, n["type"], what + ".type");
    if (auto params = n["params"]) {
      if (!params.IsMap()) throw InputError(at(path, params) + what + ".params: expected a map of param: value");
      for (auto p = params.begin(); p != params.end(); ++p) {
        const std::string key = scalar(path, p->first, what + ".params: a key");
        e.params[key] = scalar(path, p->second, what + ".params." + key);
      }
    }
    const YAML::Node files = n["files"];
    if (!files || !files.IsSequence() || files.size() == 0)
      throw InputError(at(path, files ? files : n) + what + ".files: expected a non-empty list of {path, url, sha256}");
    for (size_t i = 0; i < files.size(); ++i) {
      const YAML::Node f = files[i];
      const std::string fwhat = what + ".files[" + std::to_string(i) + "]";
      if (!f.IsMap()) throw InputError(at(path, f) + fwhat + ": expected a map with path, url and sha256");
      only_keys(path, f, {"path", "url", "sha256"}, fwhat);
      for (const char* key : {"path", "url", "sha256"})
        if (!f[key]) throw InputError(at(path, f) + fwhat + ": missing key '" + key + "'");
      e.files.push_back({scalar(path, f["path"], fwhat + ".path"), scalar(path, f["url"], fwhat + ".url"),
                         lower(scalar(path, f["sha256"], fwhat + ".sha256"))});
    }
    try {
      check_catalog_entry(e);
    } catch (const InputError& err) {
      throw InputError(at(path, it->first) + err.what());
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<CatalogEntry> load_catalog(const std::string& extra_file) {
  std::vector<CatalogEntry> all = builtin_catalog();
  if (extra_file.empty()) return all;
  for (auto& e : read_catalog_file(extra_file)) {
    auto same = std::find_if(all.begin(), all.end(), [&](const CatalogEntry& x) { return x.name == e.name; });
    if (same != all.end()) *same = std::move(e);
    else all.push_back(std::move(e));
  }
  return all;
}

const std::vector<CatalogEntry>& dataset_catalog() {
  static const std::vector<CatalogEntry> entries = [] {
    const char* extra = std::getenv("XREC_CATALOG");
    return load_catalog(extra ? extra : "");
  }();
  return entries;
}

const CatalogEntry* find_catalog_entry(const std::string& name) {
  for (auto& e : dataset_catalog())
    if (e.name == name) return &e;
  return nullptr;
}

// ---- making files available -------------------------------------------------------------------------

namespace {
void verify(const CatalogEntry& entry, const CatalogFile& f, const std::string& full, const std::string& advice) {
  const std::string found = sha256_file(full);
  if (found != lower(f.sha256))
    throw InputError("dataset '" + entry.name + "': checksum mismatch for '" + full + "': expected sha256 " +
                     lower(f.sha256) + ", found " + found + ". " + advice);
}
}  // namespace

std::string ensure_catalog_files(const CatalogEntry& entry, const std::vector<std::string>& roots,
                                 const std::string& download_root) {
  check_catalog_entry(entry);
  const std::string replace = "This is not the published file; replace it with the one from its URL, or remove it.";
  std::error_code ec;
  std::vector<std::string> partial_roots;  // roots holding some of the files: a source of verified copies
  for (auto& root : roots) {
    if (root.empty()) continue;
    size_t present = 0;
    for (auto& f : entry.files) present += fs::is_regular_file(fs::path(root) / f.path, ec);
    if (present == 0) continue;
    if (present < entry.files.size()) {
      partial_roots.push_back(root);
      continue;
    }
    for (auto& f : entry.files) verify(entry, f, (fs::path(root) / f.path).string(), replace);
    return root;
  }

  for (auto& f : entry.files) {
    const std::string dest = (fs::path(download_root) / f.path).string();
    if (fs::is_regular_file(dest, ec)) {
      verify(entry, f, dest, "Delete it to download it again.");
      continue;
    }
    fs::create_directories(fs::path(dest).parent_path(), ec);
    if (ec)
      throw InputError("dataset '" + entry.name + "': cannot create '" + fs::path(dest).parent_path().string() +
                       "': " + ec.message());
    bool copied = false;
    for (auto& root : partial_roots) {
      const std::string local = (fs::path(root) / f.path).string();
      if (!fs::is_regular_file(local, ec)) continue;
      verify(entry, f, local, replace);
      copy_verified(local, dest);
      copied = true;
      break;
    }
    if (copied) continue;
    try {
      download_file(f.url, dest, f.sha256);
    } catch (const InputError& e) {
      std::string where;
      for (auto& root : roots)
        if (!root.empty()) where += "\n  " + root;
      throw InputError("dataset '" + entry.name + "': " + e.what() +
                       (where.empty() ? "" : "\nOr put all of its files, under '" + f.path.substr(0, f.path.find('/')) +
                                                 "/', in one of the data folders:" + where));
    }
  }
  return download_root;
}

void download_file(const std::string& url, const std::string& dest, const std::string& expected_sha256,
                   const DownloadOptions& options) {
  curl_init_once();
  const std::string expected = lower(expected_sha256);
  const std::string by_hand = " To install it by hand, fetch " + url + " on a machine with network access and put it at '" +
                              dest + "' (sha256 " + expected + ").";
  std::error_code ec;
  if (fs::path(dest).has_parent_path()) fs::create_directories(fs::path(dest).parent_path(), ec);
  const std::string part = dest + ".part";
  Transfer t;
  t.out = std::fopen(part.c_str(), "wb");
  if (!t.out) throw InputError("cannot write '" + part + "': " + std::strerror(errno));
  t.label = fs::path(dest).filename().string();
  t.progress = ::isatty(2) == 1;

  CURL* h = curl_easy_init();
  if (!h) {
    std::fclose(t.out);
    fs::remove(part, ec);
    throw Error("cannot create a libcurl handle");
  }
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);  // an HTTP error page is an error, not the file
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "xrec/" XREC_VERSION_STRING);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS | CURLPROTO_FILE);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
  if (t.progress) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
  const CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  const bool closed = std::fclose(t.out) == 0;
  if (t.drawn) std::fputs("\n", stderr);

  if (rc != CURLE_OK) {
    fs::remove(part, ec);
    std::string detail = error[0] ? error : curl_easy_strerror(rc);
    std::string msg = "cannot download " + url + ": " + detail + " (curl error " + std::to_string(rc) + ")";
    if (rc == CURLE_HTTP_RETURNED_ERROR && status > 0) msg += ", HTTP status " + std::to_string(status);
    msg += ".";
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT ||
        rc == CURLE_OPERATION_TIMEDOUT)
      msg += " This machine seems to be offline, or the server is unreachable.";
    throw InputError(msg + by_hand);
  }
  if (!closed) {
    fs::remove(part, ec);
    throw InputError("cannot finish writing '" + part + "' (disk full?)." + by_hand);
  }
  const std::string found = sha256_file(part);
  if (found != expected) {
    fs::remove(part, ec);
    throw InputError("downloaded " + url + ", but its sha256 is " + found + ", expected " + expected +
                     ": the published file changed or the transfer was corrupted; it was not kept." + by_hand);
  }
  fs::rename(part, dest, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(part, ignored);
    throw InputError("cannot move '" + part + "' to '" + dest + "': " + ec.message());
  }
}

}  // namespace xrec
