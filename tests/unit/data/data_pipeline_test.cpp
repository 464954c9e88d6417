#include "xrec/data/data_pipeline.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "xrec/engine/schema.hpp"

using namespace xrec;
using namespace xrec::engine;
namespace fs = std::filesystem;

namespace {

int g_loads = 0;                         // how often the fake dataset read its file
std::vector<std::string> g_seen_roots;   // the data roots it was given last

// `user item item ...` lines with numeric item ids (the S3-Rec format), with a parity attribute and a title per
// item; without a path, `generated` users of four items each, read from no file.
class Lines : public Dataset {
 public:
  Lines(const Params& p, const PluginContext& ctx) : p_(p), ctx_(ctx) {}
  DomainData load() override {
    ++g_loads;
    g_seen_roots = ctx_.data_roots;
    DomainData d;
    d.name = "lines";
    if (p_.str("path").empty()) {
      d.num_items = 4;
      for (int64_t u = 0; u < p_.integer("generated"); ++u) d.sequences.push_back({1, 2, 3, 4});
      return d;
    }
    const std::string path = find_data_file(p_.str("path"), ctx_);
    d.source_files.push_back(path);
    std::istringstream in(read_file(path));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream row(line);
      std::string user;
      if (!(row >> user)) continue;
      d.user_ids.push_back(user);
      d.sequences.emplace_back();
      for (int64_t item; row >> item;) {
        d.sequences.back().push_back(item);
        d.num_items = std::max(d.num_items, item);
      }
    }
    CategoricalFeature parity{"parity", 2, {}, {"", "odd", "even"}};
    TextFeature title{"title", {}};
    for (int64_t i = 0; i <= d.num_items; ++i) {
      parity.values.push_back(i == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{i % 2 == 1 ? 1 : 2});
      title.values.push_back(i == 0 ? "" : "item number " + std::to_string(i));
    }
    d.item_side.categorical.push_back(parity);
    d.item_side.text.push_back(title);
    return d;
  }

 private:
  Params p_;
  PluginContext ctx_;
};

void add_lines(Registry& r, const std::string& name) {
  Component c;
  c.kind = Kind::Dataset;
  c.name = name;
  // The params of the real user_sequences, so catalog entries resolve against it.
  c.params = {param::string("path", "", "File"), param::integer("generated", 0, "Users to generate"),
              param::string("name", "", "Domain name"), param::string("negatives_file", "", "Negatives"),
              param::integer("max_users", 0, "First N users")};
  c.set_factory<Dataset>([](const Params& p, const PluginContext& ctx) { return std::make_shared<Lines>(p, ctx); });
  r.add(c);
}

const Registry& registry() {
  static const Registry r = [] {
    Registry reg;
    add_lines(reg, "lines");
    add_lines(reg, "user_sequences");  // stands in for the plugin in catalog expansions
    return reg;
  }();
  return r;
}

ResolvedConfig resolve(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return Config::parse(yaml, "test.yaml", overrides).resolve(registry(), run_schema());
}

// A temp folder that is also the data cache ($XREC_CACHE) for the test's duration.
class DataPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("xrec-pipeline-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (const char* old = std::getenv("XREC_CACHE")) saved_cache_ = old;
    ::setenv("XREC_CACHE", (dir_ / "cache").c_str(), 1);
    g_loads = 0;
  }
  void TearDown() override {
    if (saved_cache_)
      ::setenv("XREC_CACHE", saved_cache_->c_str(), 1);
    else
      ::unsetenv("XREC_CACHE");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  PluginContext context() const {
    PluginContext c;
    c.data_roots = {dir_.string()};
    return c;
  }
  LoadedDomain load(const ResolvedConfig& config, const std::string& path = "data.target") const {
    const ComponentConfig* section = config.component(path);
    if (!section) throw Error("no " + path);
    return load_domain(registry(), *section, context());
  }

  fs::path dir_;
  std::optional<std::string> saved_cache_;
};

// Item 9 occurs once: a 2-core drops it, and then user u4 (9 and 1) has one interaction left and goes too.
const char* kData = "u1 1 2 3 4\nu2 2 3 4 5\nu3 1 3 5 2\nu4 9 1\nu5 4 5 1 2 3\n";

}  // namespace

TEST(DataSectionSpecs, TheHostKeysOfEveryDataSection) {
  const Params p = Params::defaults(data_section_specs());
  EXPECT_EQ(p.integer("k_core"), 0);
  EXPECT_EQ(p.integer("max_length"), 0);
  EXPECT_DOUBLE_EQ(p.real("train_fraction"), 1.0);
  EXPECT_EQ(p.integer("train_users"), 0);
  EXPECT_TRUE(p.flag("cache"));
  EXPECT_EQ(p.str("catalog"), "");
  EXPECT_EQ(p.integer("text_features"), 0);
  EXPECT_FALSE(p.flag("attribute_features"));
  EXPECT_EQ(p.str("numeric_features"), "none");
  EXPECT_EQ(p.integer("numeric_dim"), 16);
  EXPECT_EQ(p.str("vector_file"), "");
  EXPECT_EQ(p.values().size(), 11u);
  for (auto& slot : run_schema().slots) {
    const bool data = slot.path.rfind("data.", 0) == 0;
    // Data sections share the data keys; the item encoder slot has the host key `with_ids`.
    EXPECT_EQ(slot.common.size(), data ? data_section_specs().size() : slot.path == "item_encoder" ? 1u : 0u)
        << slot.path;
    EXPECT_EQ(static_cast<bool>(slot.expand_name), data) << slot.path;
  }
}

TEST(DataSectionSpecs, CatalogNamesExpandToTheirEntry) {
  const ConfigSchema::Slot* target = nullptr;
  for (auto& s : run_schema().slots)
    if (s.path == "data.target") target = &s;
  ASSERT_NE(target, nullptr);
  const std::optional<YAML::Node> beauty = target->expand_name("beauty");
  ASSERT_TRUE(beauty);
  EXPECT_EQ((*beauty)["type"].as<std::string>(), "user_sequences");
  EXPECT_EQ((*beauty)["path"].as<std::string>(), "amazon-s3rec/Beauty.txt");
  EXPECT_EQ((*beauty)["catalog"].as<std::string>(), "beauty");
  EXPECT_FALSE(target->expand_name("no-such-dataset"));
  const std::vector<std::string> names = target->known_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "lastfm"), names.end());

  // Resolved like a written-out section: the catalog's params, the host's keys, the name kept.
  const ResolvedConfig r = resolve("data: {target: lastfm, sources: [beauty]}\n");
  const ComponentConfig* t = r.component("data.target");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, "user_sequences");
  EXPECT_EQ(t->params.str("negatives_file"), "amazon-s3rec/LastFM_sample.txt");
  EXPECT_EQ(t->params.str("catalog"), "lastfm");
  EXPECT_EQ(t->params.integer("k_core"), 0);
  EXPECT_EQ(r.component("data.sources[0]")->params.str("path"), "amazon-s3rec/Beauty.txt");
  // The map form sets keys over a named dataset; a bad name there is reported at its key.
  const ResolvedConfig m = resolve("data: {target: {catalog: lastfm, k_core: 5}}\n");
  const ComponentConfig* mt = m.component("data.target");
  ASSERT_NE(mt, nullptr);
  EXPECT_EQ(mt->type, "user_sequences");
  EXPECT_EQ(mt->params.integer("k_core"), 5);
  EXPECT_EQ(mt->params.str("negatives_file"), "amazon-s3rec/LastFM_sample.txt");
  EXPECT_EQ(mt->params.str("catalog"), "lastfm");
  try {
    resolve("data: {target: {catalog: lastfn, k_core: 5}}\n");
    ADD_FAILURE() << "an unknown name in the map form was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.target.catalog: unknown dataset name 'lastfn'; did you mean 'lastfm'?"),
              std::string::npos)
        << e.what();
  }
  try {
    resolve("data: {target: lastfm}\n", {"data.target.k_core=5"});
    ADD_FAILURE() << "a key override of a plain name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("give it as a map: data.target={catalog: lastfm, k_core: ...}"),
              std::string::npos)
        << e.what();
  }
  try {
    resolve("data: {target: {catalog: lastfm, k_kore: 5}}\n");
    ADD_FAILURE() << "an unknown key in the map form was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("k_kore"), std::string::npos) << e.what();
  }
  try {
    resolve("data: {target: beuaty}\n");
    ADD_FAILURE() << "an unknown name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.yaml:1:8: data.target: unknown dataset name 'beuaty'; did you mean "
                                         "'beauty'?"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(DataPipeline, LoadsPreprocessesBuildsFeaturesAndCaches) {
  write("d.txt", kData);
  const ResolvedConfig r = resolve("data: {target: {type: lines, path: d.txt, k_core: 2, attribute_features: true}}\n");
  const LoadedDomain first = load(r);
  EXPECT_FALSE(first.from_cache);
  EXPECT_EQ(g_loads, 1);
  const DomainData& d = first.data;
  EXPECT_EQ(d.user_ids, (std::vector<std::string>{"u1", "u2", "u3", "u5"}));
  EXPECT_EQ(d.num_items, 5);
  ASSERT_EQ(d.item_features.size(), 1u);  // the multi-hot of `parity`, cut to the items left
  EXPECT_EQ(static_cast<int64_t>(d.item_features[0].values.size()), 6 * d.item_features[0].dim);

  const LoadedDomain second = load(r);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(g_loads, 1);
  EXPECT_EQ(second.data.sequences, d.sequences);
  EXPECT_EQ(second.data.item_features[0].values, d.item_features[0].values);
  EXPECT_EQ(second.data.user_ids, d.user_ids);

  // No training user at all is a config error, found before anything runs.
  try {
    resolve("data: {target: {type: lines, path: d.txt, train_fraction: 0}}\n");
    ADD_FAILURE() << "train_fraction 0 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train_fraction"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(0, 1]"), std::string::npos) << e.what();
  }

  // Split-only keys share the entry; keys that change the data do not.
  EXPECT_TRUE(load(resolve("data: {target: {type: lines, path: d.txt, k_core: 2, attribute_features: true, "
                           "train_fraction: 0.5}}\n"))
                  .from_cache);
  EXPECT_FALSE(load(resolve("data: {target: {type: lines, path: d.txt, k_core: 3, attribute_features: true}}\n"))
                   .from_cache);
  EXPECT_EQ(g_loads, 2);

  // A changed source file is a miss.
  write("d.txt", std::string(kData) + "u6 1 2 3\n");
  const LoadedDomain changed = load(r);
  EXPECT_FALSE(changed.from_cache);
  EXPECT_EQ(changed.data.num_users(), 5);
  EXPECT_TRUE(load(r).from_cache);

  // cache: false neither reads nor writes entries.
  const ResolvedConfig off = resolve("data: {target: {type: lines, path: d.txt, k_core: 2, cache: false}}\n");
  EXPECT_FALSE(load(off).from_cache);
  EXPECT_FALSE(load(off).from_cache);
}

TEST_F(DataPipeline, GeneratedDomainsAreNotCached) {
  const ResolvedConfig r = resolve("data: {target: {type: lines, generated: 3}}\n");
  EXPECT_FALSE(load(r).from_cache);
  EXPECT_FALSE(load(r).from_cache);
  EXPECT_EQ(g_loads, 2);
}

TEST_F(DataPipeline, VectorFilesFollowTheDatasetsItemOrderAndInvalidateTheCache) {
  write("d.txt", kData);
  // Nine items as the dataset numbers them; item 9 and those only user u4 had go with the 2-core.
  std::string rows;
  for (int i = 1; i <= 9; ++i) rows += std::to_string(i) + " " + std::to_string(10 * i) + "\n";
  const std::string vectors = write("v.txt", rows);
  const ResolvedConfig r = resolve("data: {target: {type: lines, path: d.txt, k_core: 2, vector_file: v.txt}}\n");
  const LoadedDomain a = load(r);
  ASSERT_EQ(a.data.item_features.size(), 1u);
  const DenseFeature& f = a.data.item_features[0];
  EXPECT_EQ(f.dim, 2);
  // Items 1..5 kept their ids; the padding row is zeros and item 9's row is gone.
  EXPECT_EQ(f.values, (std::vector<float>{0, 0, 1, 10, 2, 20, 3, 30, 4, 40, 5, 50}));
  EXPECT_NE(std::find(a.data.source_files.begin(), a.data.source_files.end(), vectors), a.data.source_files.end());
  EXPECT_TRUE(load(r).from_cache);
  write("v.txt", "1 1\n2 1\n3 1\n4 1\n5 1\n6 1\n7 1\n8 1\n9 1\n");
  const LoadedDomain b = load(r);
  EXPECT_FALSE(b.from_cache);
  EXPECT_EQ(b.data.item_features[0].values[2], 1);
}

TEST_F(DataPipeline, CatalogFilesAreEnsuredAndTheirRootSearchedFirst) {
  const std::string shared = XREC_TEST_SHARED_DATA;
  if (!fs::exists(shared + "/amazon-s3rec/LastFM.txt"))
    GTEST_SKIP() << "the shared data folder " << shared << " is absent";
  const ResolvedConfig r = resolve("data: {target: lastfm}\n");
  PluginContext ctx;
  ctx.data_roots = {dir_.string(), shared};
  const LoadedDomain l = load_domain(registry(), *r.component("data.target"), ctx);
  ASSERT_FALSE(g_seen_roots.empty());
  EXPECT_EQ(fs::canonical(g_seen_roots.front()), fs::canonical(shared));
  EXPECT_EQ(g_seen_roots.size(), 2u);  // moved to the front, not added twice
  EXPECT_EQ(l.data.num_users(), 1090);
  EXPECT_EQ(l.data.num_interactions(), 52551);

  ResolvedConfig bad = resolve("data: {target: {type: lines, path: d.txt, catalog: lastfn}}\n");
  try {
    load_domain(registry(), *bad.component("data.target"), ctx);
    ADD_FAILURE() << "an unknown catalog name was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("data.target.catalog: unknown dataset name 'lastfn'; did you mean 'lastfm'?"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(DataPipeline, MakeTaskSplitsKeepsTrainingUsersAndSamplesNegatives) {
  write("d.txt", kData);
  const ResolvedConfig r = resolve(
      "seed: 3\ndata: {target: {type: lines, path: d.txt, train_users: 2}}\nsplit: {method: ratio, ratios: [0.5, "
      "0.25, 0.25]}\neval: {protocol: sampled, negatives: 2}\n");
  const LoadedDomain l = load(r);
  const Task t = make_task(l.data, "target", 0, r, 3, *r.component("data.target"));
  EXPECT_EQ(t.role, "target");
  EXPECT_EQ(t.train.size(), 2u);
  // Ratio cases for every user, also those whose training sequence was dropped.
  EXPECT_EQ(t.valid.size(), 4u);  // u1..u3 and u5 have one validation interaction each; u4 (2 items) none
  for (auto* cases : {&t.valid, &t.test})
    for (auto& c : *cases) EXPECT_EQ(c.negatives.size(), 2u);
  const Task again = make_task(l.data, "target", 0, r, 3, *r.component("data.target"));
  EXPECT_EQ(again.train, t.train);
  EXPECT_EQ(again.test[0].negatives, t.test[0].negatives);

  const ResolvedConfig too_many = resolve("data: {target: {type: lines, path: d.txt, train_users: 50}}\n");
  try {
    make_task(l.data, "target", 0, too_many, 3, *too_many.component("data.target"));
    ADD_FAILURE() << "50 of 5 training users was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("data.target.train_users is 50 but domain 'lines' has only 5 training users"),
              std::string::npos)
        << e.what();
  }
  const ResolvedConfig given = resolve("data: {target: {type: lines, path: d.txt}}\nsplit: {method: given}\n");
  EXPECT_THROW(make_task(l.data, "target", 0, given, 3, *given.component("data.target")), InputError);

  // sampler: file needs the target's negatives file; a source without one is evaluated with uniform negatives.
  const ResolvedConfig file = resolve(
      "data: {target: {type: lines, path: d.txt}}\nsplit: {method: ratio, ratios: [0.5, 0.25, 0.25]}\n"
      "eval: {protocol: sampled, negatives: 2, sampler: file}\n");
  EXPECT_THROW(make_task(l.data, "target", 0, file, 3, *file.component("data.target")), InputError);
  const Task source = make_task(l.data, "source", 1, file, 3, *file.component("data.target"));
  ASSERT_FALSE(source.valid.empty());
  for (auto& c : source.valid) EXPECT_EQ(c.negatives.size(), 2u);
}

TEST(DomainStats, CountsDensityAndLengthQuantiles) {
  DomainData d;
  d.num_items = 10;
  d.sequences = {{1}, {1, 2}, {1, 2, 3}, {1, 2, 3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}};
  const DomainStats s = domain_stats(d);
  EXPECT_EQ(s.users, 5);
  EXPECT_EQ(s.items, 10);
  EXPECT_EQ(s.interactions, 20);
  EXPECT_DOUBLE_EQ(s.density, 20.0 / 50);
  EXPECT_EQ(s.min_length, 1);
  EXPECT_DOUBLE_EQ(s.mean_length, 4);
  EXPECT_EQ(s.median_length, 3);
  EXPECT_EQ(s.p90_length, 10);  // nearest rank: the 5th of 5
  EXPECT_EQ(s.max_length, 10);
  d.sequences.push_back({1, 2});  // six users: the lower middle
  EXPECT_EQ(domain_stats(d).median_length, 2);
  EXPECT_EQ(domain_stats(DomainData{}).users, 0);
}

TEST(DataSections, TargetFirstThenSources) {
  const ResolvedConfig r = resolve("data: {target: {type: lines, generated: 1}, sources: [{type: lines, generated: "
                                   "2}, {type: lines, generated: 3}]}\n");
  const auto sections = data_sections(r);
  ASSERT_EQ(sections.size(), 3u);
  EXPECT_EQ(sections[0]->path, "data.target");
  EXPECT_EQ(sections[1]->path, "data.sources[0]");
  EXPECT_EQ(sections[2]->path, "data.sources[1]");
}
