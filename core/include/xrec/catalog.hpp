#pragma once
// Named datasets, as RecBole users expect: `data.target: beauty` in a config. Each entry says which
// dataset component reads it, with which params, and which files it needs (with public download
// addresses and sha256). Files are looked up in the data roots and the cache folder, and downloaded
// (libcurl, progress bar, checksum verified) where absent.
#include <map>
#include <string>
#include <vector>

namespace xrec {

struct CatalogFile {
  std::string path;    // relative to a data root, e.g. "amazon-s3rec/Beauty.txt"
  std::string url;     // http(s):// or file://
  std::string sha256;  // expected checksum
};

struct CatalogEntry {
  std::string name;         // "beauty"
  std::string description;  // one line, with provenance
  std::string type;         // dataset component, e.g. "user_sequences"
  std::map<std::string, std::string> params;  // component params as YAML scalars, e.g. path: amazon-s3rec/Beauty.txt
  std::vector<CatalogFile> files;
};

// The shipped catalog (configs/catalog.yaml), plus entries from $XREC_CATALOG (a YAML file of the same
// shape) if set.
const std::vector<CatalogEntry>& dataset_catalog();
const CatalogEntry* find_catalog_entry(const std::string& name);

// The shipped catalog file: $XREC_CATALOG_FILE if set, else share/xrec/configs/catalog.yaml of the
// installation the executable belongs to, else configs/catalog.yaml of the source tree. Throws InputError
// naming where it looked when there is none.
std::string shipped_catalog_path();
// The shipped entries alone, read once (throws InputError with file:line:column on a malformed file).
const std::vector<CatalogEntry>& builtin_catalog();
// The entries of a catalog file: a YAML map `NAME: {description, type, params: {..}, files: [{path, url,
// sha256}]}`. Throws xrec::InputError with file:line:column for unreadable files, unknown keys and
// malformed entries.
std::vector<CatalogEntry> read_catalog_file(const std::string& path);
// The shipped entries plus those of `extra_file` ("" = none); an entry of the same name replaces the
// shipped one. dataset_catalog() is load_catalog($XREC_CATALOG), read once.
std::vector<CatalogEntry> load_catalog(const std::string& extra_file);
// Throws xrec::InputError naming the entry and the problem: empty name or type, no files, a file path that
// is absolute or leaves the root, a URL that is not http(s):// or file://, a sha256 that is not 64 hex digits.
void check_catalog_entry(const CatalogEntry& entry);

// Makes every file of `entry` available: present in one of `roots` (checksum verified), else present in
// or downloaded to `download_root` (created if needed). Returns the root that holds all files.
// Throws xrec::InputError on a checksum mismatch or a failed download (offline: says so and where to put the
// files by hand).
std::string ensure_catalog_files(const CatalogEntry& entry, const std::vector<std::string>& roots,
                                 const std::string& download_root);

struct DownloadOptions {
  long connect_timeout_s = 30;  // give up connecting after this long
  long stall_timeout_s = 60;    // give up when no byte arrived for this long (no limit on total time)
};

// Downloads `url` to `dest` (via dest + ".part", renamed only after the checksum matched), following
// redirects, printing a progress bar to stderr when it is a terminal. Supports http(s):// and file://
// addresses. Throws xrec::InputError with the URL, curl's error and where to put the file by hand.
void download_file(const std::string& url, const std::string& dest, const std::string& expected_sha256,
                   const DownloadOptions& options = {});

}  // namespace xrec
