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

// ---- built-in entries -------------------------------------------------------------------------------
// The files of ../shared/data (see its README): each address pins the commit the copies were taken from.

const std::string kS3Rec = "https://raw.githubusercontent.com/RUCAIBox/CIKM2020-S3Rec/2a81540/data/";
const std::string kRecBole = "https://raw.githubusercontent.com/RUCAIBox/RecBole/7b02be5/dataset/ml-100k/";
const std::string kCoWPiRec = "https://raw.githubusercontent.com/ysh-1998/CoWPiRec/db47560/dataset/Scientific/";
const std::string kDecoRec = "https://raw.githubusercontent.com/KIKIENAO/decorec/3d93ec5/dataset/downstream/Scientific/";
const std::string kLLMRank = "https://raw.githubusercontent.com/RUCAIBox/LLMRank/5ec1154/llmrank/dataset/Games-6k/";

CatalogFile file(const std::string& folder, const std::string& base, const std::string& name, const std::string& sha) {
  return {folder + "/" + name, base + name, sha};
}

std::vector<CatalogEntry> make_builtin() {
  std::vector<CatalogEntry> c;
  auto s3rec = [&](const std::string& name, const std::string& stem, const std::string& what, const std::string& data_sha,
                   const std::string& attr_sha) {
    CatalogEntry e;
    e.name = name;
    e.description = what + " (S3-Rec, CIKM 2020; RUCAIBox/CIKM2020-S3Rec @ 2a81540)";
    e.type = "user_sequences";
    e.params = {{"path", "amazon-s3rec/" + stem + ".txt"}};
    e.files = {file("amazon-s3rec", kS3Rec, stem + ".txt", data_sha),
               file("amazon-s3rec", kS3Rec, stem + "_item2attributes.json", attr_sha)};
    c.push_back(std::move(e));
  };
  s3rec("beauty", "Beauty", "Amazon 2014 Beauty, 5-core: 22,363 users, 12,101 items, 198,502 interactions",
        "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8",
        "129e40f67486f6877eff0f5318cfa8530ee8ac23d8b0d1de04e1bb7a2ba0b2d4");
  s3rec("sports", "Sports_and_Outdoors",
        "Amazon 2014 Sports and Outdoors, 5-core: 35,598 users, 18,357 items, 296,337 interactions",
        "2a095e0648872beb9982408958290f5d655db5be2911c3756b5446de9f0b8de2",
        "7fb10733ac4f1811384a52144cdefa7fcc7536fa80a7232c5da9bd789155c34b");
  s3rec("toys", "Toys_and_Games", "Amazon 2014 Toys and Games, 5-core: 19,412 users, 11,924 items, 167,597 interactions",
        "176c680c688d497598c4a89a03b402c0fe78d795e5db335c2e78dd5f2d778a3f",
        "d371acd25101eedac04afc727626464b7acec770c4eda708705d51eb76eb1ad0");
  s3rec("lastfm", "LastFM", "Last.fm (HetRec 2011): 1,090 users, 3,646 items, 52,551 interactions, 99 fixed negatives",
        "9ded486adb5b0fe9dc761950afa0a9a05e93ff018992e0c52bf11afec529f802",
        "a4ccd678dc9ff6d43fe5073f491db5c9b02eb98dfa4f8c0382913a784be217ef");
  c.back().params["negatives_file"] = "amazon-s3rec/LastFM_sample.txt";
  c.back().files.push_back(file("amazon-s3rec", kS3Rec, "LastFM_sample.txt",
                                "60194cc2e4fd1aa8b5dc8872e1f3af9c6abd09c39d478d3df9337cb97e6e2f0d"));

  CatalogEntry ml;
  ml.name = "ml-100k";
  ml.description = "MovieLens 100K in RecBole's atomic files: 943 users, 1,682 items, 100,000 ratings "
                   "(RUCAIBox/RecBole @ 7b02be5)";
  ml.type = "atomic";
  ml.params = {{"path", "ml-100k"}};
  ml.files = {file("ml-100k", kRecBole, "ml-100k.inter", "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"),
              file("ml-100k", kRecBole, "ml-100k.item", "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532"),
              file("ml-100k", kRecBole, "ml-100k.user", "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972")};
  c.push_back(std::move(ml));

  auto presplit = [&](const std::string& name, const std::string& what, const std::string& base,
                      std::vector<std::pair<std::string, std::string>> files) {
    CatalogEntry e;
    e.name = name;
    e.description = what;
    e.type = "presplit";
    e.params = {{"path", name}};
    for (auto& [f, sha] : files) e.files.push_back(file(name, base, f, sha));
    c.push_back(std::move(e));
  };
  presplit("scientific",
           "Amazon 2018 Industrial and Scientific, UniSRec processing: 8,442 users, 4,385 items, pre-split "
           "(ysh-1998/CoWPiRec @ db47560)",
           kCoWPiRec,
           {{"Scientific.train.inter", "7284f6489d956fa20c9b64ffc84569264320edba5c3bc2fcb22db2ea083a1163"},
            {"Scientific.valid.inter", "5f37c84d3b54617cdc46638c89dfe8741c7efc4987acd5eb64de2cbd4311f46c"},
            {"Scientific.test.inter", "546da7e5f44002b4518d7fd58066684bc09613f76c240914e16976d57cfe7083"},
            {"Scientific.item2index", "896ab1017508cf20834d3d0537da9f8f624324223a835af272a98ba16f8c087a"},
            {"Scientific.user2index", "f0162b1a3a0c6b7e816f86208e7b36f65d6787923126f9558fbc6d368e4c4974"},
            {"Scientific.text", "95887e6bda76e54f59b71b566320520d5da74e21d3b6ff8f20bfb6e8e84aa831"}});
  presplit("scientific-mini",
           "A smaller subset of the Scientific data: 2,928 users, 1,585 items, 19,712 interactions, pre-split "
           "(KIKIENAO/decorec @ 3d93ec5)",
           kDecoRec,
           {{"Scientific.train.inter", "ad7a8cc23499cdbc3a0ba3650a438f946da433131e786b4ce4dfeae1c5590c5f"},
            {"Scientific.valid.inter", "46b3f988b4f12ed05de4ba518e48744d7680eda42146138ffb416445d191cafb"},
            {"Scientific.test.inter", "46077666a7e26f6f3a0b8929c15b66af83b4a21859fb0a6c25692403fd703611"},
            {"Scientific.item2index", "e689059637092e6dfaf6161ab71c5a3e54d96dc6a401a285c534cfc41516c022"},
            {"Scientific.user2index", "417271f5886f37761b9e7e0da8e80e189aac034922491ade408101bc31270642"},
            {"Scientific.text", "2989b83daab4624c7adc289d17baea0d09f85c20545e1635f7614926ae489167"}});
  presplit("games",
           "Amazon 2018 Video Games, 5-core, UniSRec processing (LLMRank's Games-6k): 50,546 users, 16,859 "
           "items, valid/test files only (RUCAIBox/LLMRank @ 5ec1154)",
           kLLMRank,
           {{"Games-6k.valid.inter", "af84810be2c86cc4e7567ebe6355baf78e6e49889ceaa3174769020fd9495f17"},
            {"Games-6k.test.inter", "b241e4c8a52d2d41530fd073296e8bced4b61753e86ed6c51467c657704bab19"},
            {"Games-6k.item", "be9cea58a8de4f940a20b0ad6b58bad46b22fd6f9dbc82d1a1902e1c62e96ade"}});
  return c;
}

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
    const std::string k = it->first.as<std::string>();
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

const std::vector<CatalogEntry>& builtin_catalog() {
  static const std::vector<CatalogEntry> entries = make_builtin();
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
    throw InputError("cannot read the dataset catalog '" + path + "' (XREC_CATALOG)");
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
        const std::string key = p->first.as<std::string>();
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
