#include "xrec/catalog.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "xrec/api/errors.hpp"
#include "xrec/sha256.hpp"
#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"

using namespace xrec;
namespace fs = std::filesystem;

using xrec::test::expect_input_error;
using xrec::test::TempDir;

namespace {


std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// An entry whose files are served from `source` by file:// addresses.
CatalogEntry served_entry(const TempDir& source, const std::vector<std::pair<std::string, std::string>>& files) {
  CatalogEntry e;
  e.name = "mini";
  e.type = "user_sequences";
  e.params = {{"path", "mini/data.txt"}};
  for (auto& [rel, text] : files) {
    const std::string at = source.write(rel, text);
    e.files.push_back({rel, "file://" + at, sha256_hex(text)});
  }
  return e;
}

}  // namespace

TEST(Catalog, BuiltInEntriesAreWellFormed) {
  const std::set<std::string> expected{"beauty", "sports", "toys", "lastfm", "ml-100k", "scientific", "scientific-mini",
                                       "games"};
  std::set<std::string> names;
  for (auto& e : builtin_catalog()) {
    SCOPED_TRACE(e.name);
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate entry";
    EXPECT_NO_THROW(check_catalog_entry(e));
    EXPECT_FALSE(e.description.empty());
    ASSERT_TRUE(e.params.count("path"));
    ASSERT_FALSE(e.files.empty());
    std::set<std::string> paths;
    for (auto& f : e.files) {
      EXPECT_TRUE(is_hex64(f.sha256)) << f.path;
      EXPECT_EQ(f.url.rfind("https://raw.githubusercontent.com/", 0), 0u) << f.url;
      EXPECT_NE(f.url.find(f.path.substr(f.path.find('/') + 1)), std::string::npos) << f.url << " serves " << f.path;
      EXPECT_EQ(f.path.rfind(e.params.at("path").substr(0, e.params.at("path").find('/')) + "/", 0), 0u) << f.path;
      paths.insert(f.path);
    }
    // The files the component reads are among the entry's files.
    if (e.type == "user_sequences") {
      EXPECT_TRUE(paths.count(e.params.at("path")));
    }
    if (e.params.count("negatives_file")) {
      EXPECT_TRUE(paths.count(e.params.at("negatives_file")));
    }
  }
  EXPECT_EQ(names, expected);
  EXPECT_EQ(builtin_catalog().size(), expected.size());
  EXPECT_EQ(find_catalog_entry("lastfm")->params.at("negatives_file"), "amazon-s3rec/LastFM_sample.txt");
  EXPECT_EQ(find_catalog_entry("ml-100k")->type, "atomic");
  EXPECT_EQ(find_catalog_entry("no-such-dataset"), nullptr);
}

TEST(Catalog, BuiltInChecksumsMatchTheSharedData) {
  const std::string shared = XREC_TEST_SHARED_DATA;
  if (!fs::is_directory(shared)) GTEST_SKIP() << "no shared data folder at " << shared;
  TempDir downloads("shared");
  for (auto& e : builtin_catalog()) {
    SCOPED_TRACE(e.name);
    // Found and verified in the root: nothing is downloaded (the download root stays empty).
    EXPECT_EQ(ensure_catalog_files(e, {downloads.path("empty-root"), shared}, downloads.path("dl")), shared);
  }
  EXPECT_FALSE(fs::exists(downloads.path("dl")));
}

TEST(Catalog, DownloadsFileUrlsIntoTheDownloadRootAndVerifiesThem) {
  TempDir source("source"), target("target");
  CatalogEntry e = served_entry(source, {{"mini/data.txt", "1 2 3\n2 3 4\n"}, {"mini/extra.json", "{\"1\": [1]}"}});
  const std::string root = ensure_catalog_files(e, {target.path("root")}, target.path("dl"));
  EXPECT_EQ(root, target.path("dl"));
  EXPECT_EQ(slurp(target.path("dl/mini/data.txt")), "1 2 3\n2 3 4\n");
  EXPECT_EQ(slurp(target.path("dl/mini/extra.json")), "{\"1\": [1]}");
  EXPECT_FALSE(fs::exists(target.path("dl/mini/data.txt.part")));

  // Second time: found in the download root, verified, not fetched again (the source is gone).
  fs::remove_all(source.path());
  EXPECT_EQ(ensure_catalog_files(e, {target.path("root")}, target.path("dl")), target.path("dl"));
}

TEST(Catalog, APresentFileInARootIsUsedWithoutDownloading) {
  TempDir source("present-src"), roots("present");
  CatalogEntry e = served_entry(source, {{"mini/data.txt", "1 2\n"}});
  e.files[0].url = "http://127.0.0.1:9/never-fetched";
  roots.write("second/mini/data.txt", "1 2\n");
  EXPECT_EQ(ensure_catalog_files(e, {roots.path("first"), roots.path("second")}, roots.path("dl")),
            roots.path("second"));
  EXPECT_FALSE(fs::exists(roots.path("dl")));
}

TEST(Catalog, APartlyFilledRootIsCompletedInTheDownloadRoot) {
  TempDir source("partial-src"), roots("partial");
  CatalogEntry e = served_entry(source, {{"mini/data.txt", "1 2\n"}, {"mini/extra.json", "{}"}});
  e.files[0].url = "http://127.0.0.1:9/never-fetched";  // data.txt comes from the root, copied
  roots.write("root/mini/data.txt", "1 2\n");
  EXPECT_EQ(ensure_catalog_files(e, {roots.path("root")}, roots.path("dl")), roots.path("dl"));
  EXPECT_EQ(slurp(roots.path("dl/mini/data.txt")), "1 2\n");
  EXPECT_EQ(slurp(roots.path("dl/mini/extra.json")), "{}");
}

TEST(Catalog, ChecksumMismatchesAreErrorsNamingFileAndHashes) {
  TempDir source("mismatch-src"), target("mismatch");
  CatalogEntry e = served_entry(source, {{"mini/data.txt", "1 2 3\n"}});
  const std::string good = e.files[0].sha256, wrong(64, 'a');

  // A downloaded file with another checksum is not kept.
  e.files[0].sha256 = wrong;
  expect_input_error([&] { ensure_catalog_files(e, {}, target.path("dl")); },
               {"dataset 'mini'", e.files[0].url, "sha256 is " + good, "expected " + wrong});
  EXPECT_FALSE(fs::exists(target.path("dl/mini/data.txt")));
  EXPECT_FALSE(fs::exists(target.path("dl/mini/data.txt.part")));

  // A file in a root with another checksum is an error, not silently replaced.
  e.files[0].sha256 = good;
  const std::string edited = target.write("root/mini/data.txt", "1 2 4\n");
  expect_input_error([&] { ensure_catalog_files(e, {target.path("root")}, target.path("dl")); },
               {"checksum mismatch for '" + edited + "'", "expected sha256 " + good, "found " + sha256_hex("1 2 4\n")});

  // So is a damaged file in the download root.
  const std::string damaged = target.write("dl2/mini/data.txt", "damaged");
  expect_input_error([&] { ensure_catalog_files(e, {}, target.path("dl2")); },
               {"checksum mismatch for '" + damaged + "'", "Delete it to download it again"});
}

TEST(Catalog, AnUnreachableServerGivesTheOfflineMessageQuickly) {
  TempDir target("offline");
  const std::string dest = target.path("dl/x.txt"), url = "http://127.0.0.1:9/x.txt";
  const auto start = std::chrono::steady_clock::now();
  expect_input_error([&] { download_file(url, dest, std::string(64, '0'), DownloadOptions{2, 5}); },
               {"cannot download " + url, "curl error", "offline", "put it at '" + dest + "'"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest + ".part"));

  // Through the catalog, the message also lists the data folders where the files may be put by hand.
  CatalogEntry e;
  e.name = "far";
  e.type = "user_sequences";
  e.files = {{"far/data.txt", url, std::string(64, '0')}};
  expect_input_error([&] { ensure_catalog_files(e, {target.path("root")}, target.path("dl")); },
               {"dataset 'far'", url, "data folders", target.path("root")});
}

TEST(Catalog, AMissingFileUrlIsAnError) {
  TempDir target("missing");
  expect_input_error([&] { download_file("file://" + target.path("absent.txt"), target.path("x"), std::string(64, '0')); },
               {"cannot download file://", "absent.txt", "curl error"});
}

TEST(Catalog, CatalogFilesAddAndOverrideEntries) {
  TempDir dir("yaml");
  const std::string sha(64, 'b');
  const std::string path = dir.write("catalog.yaml",
                                     "beauty:\n"
                                     "  type: interactions\n"
                                     "  params: {path: mirror/beauty.tsv, sep: tab}\n"
                                     "  files:\n"
                                     "    - {path: mirror/beauty.tsv, url: 'https://example.org/b.tsv', sha256: " +
                                         std::string(64, 'B') + "}\n"
                                         "mine:\n"
                                         "  description: my own data\n"
                                         "  type: user_sequences\n"
                                         "  params:\n"
                                         "    path: mine/seq.txt\n"
                                         "  files:\n"
                                         "    - path: mine/seq.txt\n"
                                         "      url: file:///srv/data/seq.txt\n"
                                         "      sha256: " + sha + "\n");
  auto extra = read_catalog_file(path);
  ASSERT_EQ(extra.size(), 2u);
  EXPECT_EQ(extra[1].name, "mine");
  EXPECT_EQ(extra[1].description, "my own data");
  EXPECT_EQ(extra[1].params.at("path"), "mine/seq.txt");
  EXPECT_EQ(extra[1].files[0].url, "file:///srv/data/seq.txt");
  EXPECT_EQ(extra[0].files[0].sha256, sha) << "hex digits are lowercased";

  auto all = load_catalog(path);
  EXPECT_EQ(all.size(), builtin_catalog().size() + 1);
  auto beauty = std::find_if(all.begin(), all.end(), [](auto& e) { return e.name == "beauty"; });
  ASSERT_NE(beauty, all.end());
  EXPECT_EQ(beauty->type, "interactions");
  EXPECT_EQ(beauty->params.at("sep"), "tab");
  EXPECT_EQ(all.back().name, "mine");
  EXPECT_EQ(load_catalog("").size(), builtin_catalog().size());
}

TEST(Catalog, CatalogFileErrorsSayWhere) {
  TempDir dir("yaml-errors");
  const std::string sha(64, 'c');
  auto file = [&](const std::string& name, const std::string& text) { return dir.write(name, text); };
  const std::string unknown = file("unknown.yaml", "x:\n  type: atomic\n  flies: []\n");
  expect_input_error([&] { read_catalog_file(unknown); }, {unknown + ":3:3:", "unknown key 'flies'", "description, type"});
  // Issue 12 item 14: a long key with control bytes is cut and escaped.
  const std::string long_key = file("long_key.yaml", "x:\n  type: atomic\n  \"" + std::string(500, 'k') + "\\t\": 1\n");
  expect_input_error([&] { read_catalog_file(long_key); },
                     {"unknown key '" + std::string(200, 'k') + "... (501 bytes)'"});
  const std::string tab_key = file("tab_key.yaml", "x:\n  type: atomic\n  \"a\\tb\": 1\n");
  expect_input_error([&] { read_catalog_file(tab_key); }, {"unknown key 'a\\tb'"});
  const std::string no_type = file("no_type.yaml", "x:\n  files: [{path: a, url: 'file:///a', sha256: " + sha + "}]\n");
  expect_input_error([&] { read_catalog_file(no_type); }, {no_type + ":2:", "missing key 'type'"});
  const std::string no_files = file("no_files.yaml", "x:\n  type: atomic\n");
  expect_input_error([&] { read_catalog_file(no_files); }, {no_files, "dataset 'x'.files", "non-empty list"});
  const std::string bad_sha = file("bad_sha.yaml", "x:\n  type: atomic\n  files: [{path: a, url: 'file:///a', sha256: 12ab}]\n");
  expect_input_error([&] { read_catalog_file(bad_sha); }, {bad_sha + ":1:1:", "sha256 '12ab'", "64"});
  const std::string bad_url = file("bad_url.yaml", "x:\n  type: atomic\n  files: [{path: a, url: 'ftp://h/a', sha256: " + sha + "}]\n");
  expect_input_error([&] { read_catalog_file(bad_url); }, {bad_url, "ftp://h/a", "http://, https:// or file://"});
  const std::string escape = file("escape.yaml", "x:\n  type: atomic\n  files: [{path: ../a, url: 'file:///a', sha256: " + sha + "}]\n");
  expect_input_error([&] { read_catalog_file(escape); }, {escape, "'../a'", "inside the data root"});
  const std::string missing_key = file("missing_key.yaml", "x:\n  type: atomic\n  files: [{path: a, sha256: " + sha + "}]\n");
  expect_input_error([&] { read_catalog_file(missing_key); }, {missing_key + ":3:", "files[0]", "missing key 'url'"});
  const std::string syntax = file("syntax.yaml", "x: [unclosed\n");
  expect_input_error([&] { read_catalog_file(syntax); }, {syntax + ":", "YAML syntax error"});
  const std::string list = file("list.yaml", "- a\n- b\n");
  expect_input_error([&] { read_catalog_file(list); }, {list + ":1:1:", "map of dataset names"});
  expect_input_error([&] { read_catalog_file(dir.path("absent.yaml")); }, {"absent.yaml", "XREC_CATALOG"});
  // Found by catalog_fuzz: a list or a map as a key threw yaml-cpp's own BadConversion past every handler.
  const std::string list_key = file("list_key.yaml", "x:\n  type: atomic\n  [a, b]: 1\n");
  expect_input_error([&] { read_catalog_file(list_key); }, {list_key + ":3:3:", "a key: expected a scalar value"});
  const std::string param_key =
      file("param_key.yaml", "x:\n  type: atomic\n  params: {{a: 1}: x}\n  files: [{path: a, url: 'file:///a', sha256: " +
                                 sha + "}]\n");
  expect_input_error([&] { read_catalog_file(param_key); }, {param_key + ":", ".params: a key: expected a scalar value"});
  const std::string file_key = file("file_key.yaml", "x:\n  type: atomic\n  files: [{[p]: a, url: 'file:///a'}]\n");
  expect_input_error([&] { read_catalog_file(file_key); }, {file_key + ":", "files[0]: a key: expected a scalar value"});
  EXPECT_TRUE(read_catalog_file(file("empty.yaml", "")).empty());
}

// The catalog is a file shipped with the configs, not entries compiled into the core.
TEST(Catalog, TheShippedCatalogIsConfigsCatalogYaml) {
  const char* saved = std::getenv("XREC_CATALOG_FILE");
  ASSERT_EQ(saved, nullptr) << "unset XREC_CATALOG_FILE to run this test";
  const std::string source = std::string(XREC_TEST_SOURCE_DIR) + "/configs/catalog.yaml";
  EXPECT_EQ(fs::weakly_canonical(shipped_catalog_path()), fs::weakly_canonical(source));
  const std::vector<CatalogEntry> read = read_catalog_file(source);
  ASSERT_EQ(read.size(), builtin_catalog().size());
  const CatalogEntry* beauty = nullptr;
  for (auto& e : builtin_catalog())
    if (e.name == "beauty") beauty = &e;
  ASSERT_NE(beauty, nullptr);
  EXPECT_EQ(beauty->type, "user_sequences");
  EXPECT_EQ(beauty->params.at("path"), "amazon-s3rec/Beauty.txt");
  ASSERT_EQ(beauty->files.size(), 2u);
  EXPECT_EQ(beauty->files[0].sha256, "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8");
  EXPECT_NE(find_catalog_entry("beauty"), nullptr);

  // XREC_CATALOG_FILE replaces the shipped file; a malformed one is an error with file:line:column.
  TempDir dir("shipped-catalog");
  const std::string bad = dir.write("cat.yaml", "beauty:\n  type: user_sequences\n  files: 3\n");
  ::setenv("XREC_CATALOG_FILE", bad.c_str(), 1);
  EXPECT_EQ(shipped_catalog_path(), bad);
  expect_input_error([&] { read_catalog_file(shipped_catalog_path()); },
                     {bad + ":3:10: dataset 'beauty'.files: expected a non-empty list"});
  ::unsetenv("XREC_CATALOG_FILE");
}

TEST(Catalog, NoCompiledInEntriesRemain) {
  // The core names no dataset plugin: the words of the catalog live only in configs/catalog.yaml.
  const std::string code = slurp(std::string(XREC_TEST_SOURCE_DIR) + "/core/src/catalog.cpp");
  EXPECT_EQ(code.find("user_sequences"), std::string::npos);
  EXPECT_EQ(code.find("raw.githubusercontent.com"), std::string::npos);
}
