#include "xrec/loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "../fixtures/plugins/wrong_abi_facts.hpp"
#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/version.hpp"
#include "xrec/sha256.hpp"
#include "support/elf_layout.hpp"

// The fixture plugins (tests/fixtures/plugins) are built into one folder per case under
// XREC_TEST_FIXTURE_PLUGINS; `mixed/` holds all of them.
namespace xrec {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string dir(const std::string& fixture_case) {
  return std::string(XREC_TEST_FIXTURE_PLUGINS) + "/" + fixture_case;
}
// The canonical path the loader reports for a fixture library.
std::string lib(const std::string& fixture_case, const std::string& name) {
  return fs::canonical(dir(fixture_case) + "/" + name + ".so").string();
}

struct Loaded {
  Registry registry;
  PluginLoader loader{registry};
  explicit Loaded(const std::vector<std::string>& cases) {
    std::vector<std::string> dirs;
    for (auto& c : cases) dirs.push_back(dir(c));
    loader.load_dirs(dirs);
  }
  std::vector<std::string> plugin_names() const {
    std::vector<std::string> out;
    for (auto& p : loader.plugins()) out.push_back(p.name);
    return out;
  }
  std::vector<std::string> problem_paths() const {
    std::vector<std::string> out;
    for (auto& p : loader.problems()) out.push_back(p.path);
    return out;
  }
  // The message of the one problem reported for `path` ("" when there is none, a failure if several).
  std::string problem(const std::string& path) const {
    std::string found;
    int n = 0;
    for (auto& p : loader.problems())
      if (p.path == path) found = p.message, ++n;
    EXPECT_LE(n, 1) << "several problems for " << path;
    return found;
  }
};

const std::string kWrongAbiMessage =
    std::string("built for another host: api_version expected ") + std::to_string(XREC_API_VERSION) +
    ", found " + std::to_string(FIXTURE_API_VERSION) +
    "; torch_version expected " XREC_TORCH_VERSION ", found " FIXTURE_TORCH_VERSION
    "; compiler expected " XREC_COMPILER_ID ", found " FIXTURE_COMPILER "; cxx_abi expected " XREC_CXX_ABI
    ", found " FIXTURE_CXX_ABI "; device expected " XREC_DEVICE_KIND ", found " FIXTURE_DEVICE;

TEST(Loader, LoadsAGoodPluginWithItsFactsAndComponents) {
  Loaded l({"good"});
  EXPECT_TRUE(l.loader.problems().empty()) << l.loader.problems()[0].message;
  ASSERT_EQ(l.loader.plugins().size(), 1u);
  const LoadedPlugin& p = l.loader.plugins()[0];
  const std::string path = lib("good", "fixture_good");
  EXPECT_EQ(p.name, "fixture_good");
  EXPECT_EQ(p.version, "1.2.3");
  EXPECT_EQ(p.description, "Test fixture: a well-formed plugin");
  EXPECT_EQ(p.path, path);
  EXPECT_EQ(p.sha256, sha256_file(path));
  EXPECT_EQ(p.sha256.size(), 64u);
  EXPECT_EQ(p.xrec_version, XREC_VERSION_STRING);
  EXPECT_EQ(p.torch_version, XREC_TORCH_VERSION);
  EXPECT_EQ(p.compiler, XREC_COMPILER_ID);
  EXPECT_EQ(p.cxx_abi, XREC_CXX_ABI);
  EXPECT_EQ(p.device, XREC_DEVICE_KIND);
  EXPECT_THAT(p.components, ElementsAre(std::make_pair(Kind::Dataset, std::string("fixture_good_data"))));
  EXPECT_EQ(l.loader.provider(Kind::Dataset, "fixture_good_data"), &p);
  EXPECT_EQ(l.loader.provider(Kind::Backbone, "fixture_good_data"), nullptr);

  const Component& c = l.registry.get(Kind::Dataset, "fixture_good_data");
  EXPECT_EQ(c.plugin, "fixture_good");
  EXPECT_EQ(c.path, path);
  EXPECT_EQ(c.doc, "A tiny generated domain for the loader tests");
  std::vector<std::string> names;
  for (auto& s : c.params) names.push_back(s.name);
  EXPECT_THAT(names, ElementsAre("num_users", "num_items", "scale", "shuffle", "mode", "ks", "weights",
                                 "tags", "root"));
  EXPECT_EQ(c.params[0].describe_type(), "int in [1, 100]");
  EXPECT_TRUE(c.params[8].required());
}

TEST(Loader, AGoodPluginsFactoryWorksAcrossTheBoundary) {
  Loaded l({"good"});
  const Component& c = l.registry.get(Kind::Dataset, "fixture_good_data");
  Params params = Params::defaults(c.params, "dataset (fixture_good_data)");
  params.set("root", Value("/nowhere"));
  params.set("num_users", Value(4));
  std::shared_ptr<Dataset> ds = c.dataset(params, PluginContext{});
  ASSERT_NE(ds, nullptr);
  DomainData d = ds->load();
  EXPECT_EQ(d.name, "fixture_good_data");
  EXPECT_EQ(d.num_users(), 4);
  EXPECT_EQ(d.num_items, 5);
  EXPECT_EQ(d.sequences[1], (std::vector<int64_t>{2, 3, 4}));
}

TEST(Loader, NamesEveryMismatchedBuildFactWithoutRegistering) {
  Loaded l({"wrong_abi"});
  EXPECT_TRUE(l.loader.plugins().empty());
  ASSERT_EQ(l.loader.problems().size(), 1u);
  // The fixture's register_components throws; its message here would mean the check came too late.
  EXPECT_EQ(l.problem(lib("wrong_abi", "fixture_wrong_abi")), kWrongAbiMessage);
  EXPECT_TRUE(l.registry.list().empty());
}

TEST(Loader, ReportsALibraryWithoutTheDescriptorSection) {
  Loaded l({"no_entry"});
  EXPECT_TRUE(l.loader.plugins().empty());
  EXPECT_EQ(l.problem(lib("no_entry", "fixture_no_entry")), "not an xrec plugin (no .xrec_plugin section)");
}

TEST(Loader, ReportsAFileThatIsNotALibraryFromItsBytes) {
  Loaded l({"not_a_library"});
  EXPECT_TRUE(l.loader.plugins().empty());
  EXPECT_THAT(l.problem(lib("not_a_library", "fixture_not_a_library")), StartsWith("not an ELF file ("));
}

// The regression test of the check-before-load: a library whose file says another LibTorch and whose
// static initialiser writes a marker and aborts. Before, dlopen ran the initialiser (the process died).
TEST(Loader, AMismatchedLibraryNeverRunsALine) {
  const fs::path marker = fs::temp_directory_path() / ("xrec_loader_marker_" + std::to_string(::getpid()));
  fs::remove(marker);
  ::setenv("XREC_TEST_MARKER", marker.c_str(), 1);
  Loaded l({"runs_nothing"});
  ::unsetenv("XREC_TEST_MARKER");
  EXPECT_TRUE(l.loader.plugins().empty());
  EXPECT_EQ(l.problem(lib("runs_nothing", "fixture_runs_nothing")),
            "built for another host: torch_version expected " XREC_TORCH_VERSION ", found 0.4.1");
  EXPECT_FALSE(fs::exists(marker)) << "the library's static initialiser ran";
}

TEST(Loader, TheLoadedDescriptorMustEqualTheFilesOne) {
  Loaded l({"lying"});
  EXPECT_TRUE(l.loader.plugins().empty());
  EXPECT_EQ(l.problem(lib("lying", "fixture_lying")),
            "the loaded descriptor differs from the file's .xrec_plugin section: version file 1.0.0, memory 6.6.6");
  EXPECT_TRUE(l.registry.list().empty());
}

// Issue 12, crash 1: a truncated library killed the host with SIGBUS inside dlopen.
TEST(Loader, TruncatedLibrariesAreSkippedAndTheOthersLoad) {
  const fs::path tmp = fs::temp_directory_path() / ("xrec_loader_trunc_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::copy_file(lib("good", "fixture_good"), tmp / "fixture_good.so");
  const auto size = fs::file_size(lib("good", "fixture_good"));
  std::ifstream in(lib("good", "fixture_good"), std::ios::binary);
  const std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<uintmax_t> cuts = {xrec::test::loadable_end(image) / 2, size - 1, 4096, 63};
  for (size_t i = 0; i < cuts.size(); ++i) {
    const fs::path cut = tmp / ("fixture_cut" + std::to_string(i) + ".so");
    fs::copy_file(lib("good", "fixture_good"), cut);
    fs::resize_file(cut, cuts[i]);
  }
  Registry registry;
  PluginLoader loader(registry);
  loader.load_dirs({tmp.string()});
  ASSERT_EQ(loader.plugins().size(), 1u);
  EXPECT_EQ(loader.plugins()[0].name, "fixture_good");
  ASSERT_EQ(loader.problems().size(), cuts.size());
  EXPECT_THAT(loader.problems()[0].message, StartsWith("truncated ELF file (loadable segment "));
  EXPECT_THAT(loader.problems()[1].message, StartsWith("truncated"));
  EXPECT_THAT(loader.problems()[3].message, StartsWith("not an ELF file ("));
  for (const PluginProblem& p : loader.problems()) EXPECT_THAT(p.path, HasSubstr("fixture_cut"));
  EXPECT_NE(registry.find(Kind::Dataset, "fixture_good_data"), nullptr);
  fs::remove_all(tmp);
}

TEST(Loader, RegistrationThatThrowsRegistersNothing) {
  Loaded l({"throws"});
  EXPECT_TRUE(l.loader.plugins().empty());
  EXPECT_EQ(l.problem(lib("throws", "fixture_throws")),
            "registration threw: fixture_throws cannot find its model files");
  EXPECT_EQ(l.registry.find(Kind::Dataset, "fixture_throws_data"), nullptr);  // staged before the throw
}

TEST(Loader, AComponentClashRejectsTheWholeSecondPlugin) {
  Loaded l({"duplicate"});
  EXPECT_THAT(l.plugin_names(), ElementsAre("fixture_good"));
  EXPECT_EQ(l.problem(lib("duplicate", "fixture_redefines")),
            "dataset 'fixture_good_data' is already registered by plugin 'fixture_good' from " +
                lib("duplicate", "fixture_good") + "; none of this plugin's components were registered");
  EXPECT_EQ(l.registry.find(Kind::Dataset, "fixture_redefines_data"), nullptr);
  EXPECT_EQ(l.registry.get(Kind::Dataset, "fixture_good_data").plugin, "fixture_good");
}

TEST(Loader, ThePluginNameMustBeTheFileName) {
  Loaded l({"name_mismatch"});
  EXPECT_TRUE(l.loader.plugins().empty());
  EXPECT_EQ(l.problem(lib("name_mismatch", "fixture_name_mismatch")),
            "plugin name expected fixture_name_mismatch (the library's base name), found fixture_other_name");
  EXPECT_TRUE(l.registry.list().empty());
}

TEST(Loader, ADefaultThatBreaksItsOwnSpecRejectsThePlugin) {
  Loaded l({"bad_default"});
  EXPECT_TRUE(l.loader.plugins().empty());
  EXPECT_EQ(l.problem(lib("bad_default", "fixture_bad_default")),
            "dataset 'fixture_bad_default_data': default of parameter 'k' is 0, expected int in [1, 10]");
  EXPECT_TRUE(l.registry.list().empty());
}

TEST(Loader, GoodPluginsLoadNextToBrokenOnes) {
  Loaded l({"mixed"});
  EXPECT_THAT(l.plugin_names(), ElementsAre("fixture_good"));
  // Sorted by file name, each broken library reported once, with its own reason.
  EXPECT_THAT(l.problem_paths(),
              ElementsAre(lib("mixed", "fixture_bad_default"), lib("mixed", "fixture_lying"),
                          lib("mixed", "fixture_name_mismatch"), lib("mixed", "fixture_no_entry"),
                          lib("mixed", "fixture_not_a_library"), lib("mixed", "fixture_redefines"),
                          lib("mixed", "fixture_runs_nothing"), lib("mixed", "fixture_throws"),
                          lib("mixed", "fixture_wrong_abi")));
  EXPECT_THAT(l.problem(lib("mixed", "fixture_bad_default")), HasSubstr("default of parameter 'k' is 0"));
  EXPECT_THAT(l.problem(lib("mixed", "fixture_name_mismatch")), StartsWith("plugin name expected"));
  EXPECT_EQ(l.problem(lib("mixed", "fixture_no_entry")), "not an xrec plugin (no .xrec_plugin section)");
  EXPECT_THAT(l.problem(lib("mixed", "fixture_not_a_library")), StartsWith("not an ELF file ("));
  EXPECT_THAT(l.problem(lib("mixed", "fixture_runs_nothing")), StartsWith("built for another host: "));
  EXPECT_THAT(l.problem(lib("mixed", "fixture_lying")), StartsWith("the loaded descriptor differs"));
  EXPECT_THAT(l.problem(lib("mixed", "fixture_redefines")),
              HasSubstr("already registered by plugin 'fixture_good' from " + lib("mixed", "fixture_good")));
  EXPECT_THAT(l.problem(lib("mixed", "fixture_throws")), StartsWith("registration threw: "));
  EXPECT_EQ(l.problem(lib("mixed", "fixture_wrong_abi")), kWrongAbiMessage);
  std::vector<std::string> all;
  for (const Component* c : l.registry.list()) all.push_back(c->name);
  EXPECT_THAT(all, ElementsAre("fixture_good_data"));
}

TEST(Loader, ASecondPluginOfTheSameNameIsRejectedNamingBothPaths) {
  Loaded l({"good", "mixed"});
  EXPECT_THAT(l.plugin_names(), ElementsAre("fixture_good"));
  EXPECT_EQ(l.loader.plugins()[0].path, lib("good", "fixture_good"));
  EXPECT_EQ(l.problem(lib("mixed", "fixture_good")),
            "plugin 'fixture_good' is already loaded from " + lib("good", "fixture_good"));
}

TEST(Loader, TheSameFileIsLoadedOnceWhateverTheWayToIt) {
  const fs::path tmp = fs::temp_directory_path() / ("xrec_loader_test_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  fs::create_symlink(lib("good", "fixture_good"), tmp / "fixture_good.so");
  Registry registry;
  PluginLoader loader(registry);
  loader.load_dirs({dir("good"), dir("good"), tmp.string()});
  EXPECT_TRUE(loader.load_file(dir("good") + "/../good/fixture_good.so"));
  EXPECT_EQ(loader.plugins().size(), 1u);
  EXPECT_TRUE(loader.problems().empty());
  // A broken file is reported once too, and stays "not loaded".
  loader.load_dirs({dir("no_entry")});
  EXPECT_FALSE(loader.load_file(lib("no_entry", "fixture_no_entry")));
  EXPECT_EQ(loader.problems().size(), 1u);
  fs::remove_all(tmp);
}

TEST(Loader, MissingFoldersAreSkippedAndFilesAreNotFolders) {
  Registry registry;
  PluginLoader loader(registry);
  loader.load_dirs({dir("does_not_exist")});
  EXPECT_TRUE(loader.problems().empty());
  const std::string file = lib("good", "fixture_good");
  loader.load_dirs({file});
  ASSERT_EQ(loader.problems().size(), 1u);
  EXPECT_EQ(loader.problems()[0].path, file);
  EXPECT_THAT(loader.problems()[0].message, StartsWith("not a folder"));
  EXPECT_TRUE(loader.plugins().empty());
}

TEST(Loader, LoadFileOfAMissingPathSaysSo) {
  Registry registry;
  PluginLoader loader(registry);
  EXPECT_FALSE(loader.load_file(dir("good") + "/nothing.so"));
  ASSERT_EQ(loader.problems().size(), 1u);
  EXPECT_EQ(loader.problems()[0].path, dir("good") + "/nothing.so");
  EXPECT_THAT(loader.problems()[0].message, StartsWith("cannot open: "));
}

TEST(Loader, ALoaderSharesTheProcessWithOthers) {
  // Libraries stay loaded; a second registry gets its own copy of the components.
  Loaded first({"good"});
  Loaded second({"good"});
  EXPECT_THAT(second.plugin_names(), ElementsAre("fixture_good"));
  EXPECT_NE(&first.registry.get(Kind::Dataset, "fixture_good_data"),
            &second.registry.get(Kind::Dataset, "fixture_good_data"));
}

TEST(DefaultPluginDirs, EnvironmentFirstThenTheBuildsFolderForBuildTreeExecutables) {
  const char* old = std::getenv("XREC_PLUGIN_PATH");
  const std::string saved = old ? old : "";
  ::setenv("XREC_PLUGIN_PATH", "/first::/second:", 1);
  std::vector<std::string> dirs = default_plugin_dirs();
  if (old)
    ::setenv("XREC_PLUGIN_PATH", saved.c_str(), 1);
  else
    ::unsetenv("XREC_PLUGIN_PATH");

  ASSERT_GE(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], "/first");
  EXPECT_EQ(dirs[1], "/second");
  // This test runs from the build's bin folder: it gets the build's plugins and never the install's
  // (two builds of the same plugins would clash by name).
  std::vector<std::string> rest(dirs.begin() + 2, dirs.end());
  if (fs::is_directory(XREC_TEST_PLUGIN_DIR))
    EXPECT_THAT(rest, ElementsAre(XREC_TEST_PLUGIN_DIR));
  else
    EXPECT_TRUE(rest.empty());
}

}  // namespace
}  // namespace xrec
