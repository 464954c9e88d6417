// The cold-start strategies' pieces (plugins/transfer/mpp/meta.cpp) and the ctr_mlp pointwise model (through
// the real plugin loader): values, not "it runs".
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "meta.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/engine/pointwise.hpp"
#include "../dataset_harness.hpp"
#include "e2e/harness.hpp"

using namespace xrec;
using namespace xrec::mpp;
namespace fs = std::filesystem;

namespace {

// Five users, twelve items; users: gender (single-valued), items: genres (multi-valued, item 3 has none)
// and a numeric year (item 4 missing).
DomainData domain() {
  DomainData d;
  d.name = "toy";
  d.num_items = 12;
  for (int64_t u = 0; u < 5; ++u) d.sequences.push_back({u + 1, u + 2, u + 3, u + 4, u + 5, u + 6});
  CategoricalFeature gender{"gender", 2, {{1}, {2}, {1}, {2}, {}}, {}};
  d.user_side.categorical.push_back(gender);
  CategoricalFeature genres{"genres", 3, {}, {}};
  NumericFeature year{"year", {}};
  for (int64_t i = 0; i <= 12; ++i) {
    genres.values.push_back(i == 3 ? std::vector<int64_t>{} : std::vector<int64_t>{1 + i % 3, 1 + (i + 1) % 3});
    year.values.push_back(i == 4 ? std::nan("") : 1990.0 + i);
  }
  d.item_side.categorical.push_back(genres);
  d.item_side.numeric.push_back(year);
  return d;
}

std::shared_ptr<PointwiseModel> ctr_mlp(const DomainData& d, std::map<std::string, Value> values = {}) {
  const Component& c = test::plugin_registry().get(Kind::PointwiseModel, "ctr_mlp");
  Params p = Params::defaults(c.params, "pointwise_model (ctr_mlp)");
  for (auto& [k, v] : values) p.set(k, v);
  torch::manual_seed(3);
  auto m = c.pointwise_model(p, PluginContext());
  m->bind(engine::pointwise_fields(d));
  return m;
}

PointwiseBatch batch(const DomainData& d, int64_t user, const std::vector<std::pair<int64_t, float>>& pairs) {
  std::vector<engine::PointwiseRow> rows;
  for (auto& [i, l] : pairs) rows.push_back({user, i, l});
  return engine::pointwise_batch(d, rows);
}

std::vector<std::string> names(const torch::nn::Module& m) {
  std::vector<std::string> out;
  for (auto& p : m.named_parameters()) out.push_back(p.key());
  return out;
}

}  // namespace

TEST(CtrMlp, ParametersFollowTheFieldsAndEveryOneIsReadThroughFastWeights) {
  const DomainData d = domain();
  auto m = ctr_mlp(d);
  EXPECT_EQ(names(*m), (std::vector<std::string>{"item_id", "user_field_gender", "item_field_genres", "item_numeric",
                                                 "fc1_weight", "fc1_bias", "fc2_weight", "fc2_bias", "out_weight",
                                                 "out_bias"}));
  EXPECT_EQ(m->named_parameters()["item_id"].sizes().vec(), (std::vector<int64_t>{13, 32}));
  EXPECT_EQ(m->named_parameters()["fc1_weight"].sizes().vec(), (std::vector<int64_t>{64, 4 * 32}));
  const auto b = batch(d, 0, {{1, 1}, {3, 0}, {4, 1}});
  const auto y = m->logits(b);
  ASSERT_EQ(y.sizes().vec(), std::vector<int64_t>{3});
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());  // item 3 without genres, item 4 without a year
  // Every parameter replaced by zeros except out_bias = 0.7: the logit is exactly 0.7 for every row.
  FastWeights w;
  for (auto& p : m->named_parameters())
    w.set(p.value(), p.key() == "out_bias" ? torch::full({1}, 0.7) : torch::zeros_like(p.value()));
  EXPECT_TRUE(torch::allclose(m->logits(b, w), torch::full({3}, 0.7)));
  // A multi-valued field is the mean of its rows: item_field_genres row r = r, everything else zero except a
  // first layer that reads the genres block's first column; item 1 has genres {2, 3} -> 2.5.
  FastWeights g;
  for (auto& p : m->named_parameters()) {
    auto z = torch::zeros_like(p.value());
    if (p.key() == "item_field_genres") z = torch::arange(4, torch::kFloat).unsqueeze(1).expand({4, 32}).clone();
    if (p.key() == "fc1_weight") z.index_put_({0, 2 * 32}, 1.0);
    if (p.key() == "fc2_weight") z.index_put_({0, 0}, 1.0);
    if (p.key() == "out_weight") z.index_put_({0, 0}, 1.0);
    g.set(p.value(), z);
  }
  const auto v = m->logits(batch(d, 0, {{1, 1}, {3, 0}}), g);
  EXPECT_NEAR(v[0].item<float>(), 2.5f, 1e-6);
  EXPECT_NEAR(v[1].item<float>(), 0.0f, 1e-6);  // no genres: a zero vector
}

TEST(CtrMlp, NothingToEmbedIsAnInputError) {
  DomainData d;
  d.name = "bare";
  d.num_items = 3;
  d.sequences = {{1, 2}};
  test::expect_input_error([&] { ctr_mlp(d, {{"item_id", Value(false)}}); }, {"nothing to embed"});
}

TEST(Partition, PatternsSplitByNameAndAnUnmatchedPatternIsAnError) {
  const DomainData d = domain();
  auto m = ctr_mlp(d);
  const Partition p = partition(*m, {"fc2_*", "out_*"});
  EXPECT_EQ(p.adaptive_names, (std::vector<std::string>{"fc2_weight", "fc2_bias", "out_weight", "out_bias"}));
  EXPECT_EQ(p.fixed.size(), 6u);
  EXPECT_EQ(p.adaptive_numel(), 64 * 64 + 64 + 64 + 1);
  EXPECT_EQ(p.bytes_per_user(), 4 * (64 * 64 + 64 + 64 + 1));
  EXPECT_EQ(partition(*m, {"*"}).fixed.size(), 0u);
  test::expect_input_error([&] { partition(*m, {"fc9_*"}); }, {"'fc9_*' matches no parameter", "out_bias"});
  EXPECT_TRUE(glob_match("fc?_weight", "fc1_weight"));
  EXPECT_FALSE(glob_match("fc?_weight", "fc10_weight"));
}

TEST(Adapt, TheAdaptivePartChangesPerUserAndTheFixedPartDoesNot) {
  const DomainData d = domain();
  auto m = ctr_mlp(d);
  const Partition p = partition(*m, {"fc2_*", "out_*"});
  std::vector<torch::Tensor> before;
  for (auto& t : m->parameters()) before.push_back(t.detach().clone());
  const AdaptOptions o{3, 0.5};
  const auto a = adapt(*m, p, batch(d, 0, {{1, 1}, {7, 0}, {2, 1}, {9, 0}}), o, Graph::None);
  const auto b = adapt(*m, p, batch(d, 1, {{2, 0}, {8, 1}, {3, 0}, {10, 1}}), o, Graph::None);
  double moved_a = 0, moved_b = 0, apart = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    moved_a += (a[k] - p.adaptive[k]).abs().sum().item<double>();
    moved_b += (b[k] - p.adaptive[k]).abs().sum().item<double>();
    apart += (a[k] - b[k]).abs().sum().item<double>();
  }
  EXPECT_GT(moved_a, 1e-3);
  EXPECT_GT(moved_b, 1e-3);
  EXPECT_GT(apart, 1e-3);
  // Adaptation lives in the returned tensors: no parameter of the model moved (fixed part nor initialisation).
  const auto after = m->parameters();
  for (size_t k = 0; k < after.size(); ++k) EXPECT_TRUE(torch::equal(after[k], before[k])) << names(*m)[k];
  // The support loss went down for the user adapted on it.
  const auto s = batch(d, 0, {{1, 1}, {7, 0}, {2, 1}, {9, 0}});
  EXPECT_LT(log_loss(*m, s, fast_weights(p, a)).item<double>(), log_loss(*m, s).item<double>());
}

TEST(Adapt, AnEmptySupportSetGivesTheInitialisationAndAWarning) {
  const DomainData d = domain();
  auto m = ctr_mlp(d);
  const Partition p = partition(*m, {"out_*"});
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10);
  spdlog::logger log("mpp-test", sink);
  const auto phi = adapt(*m, p, batch(d, 4, {}), AdaptOptions{3, 0.5}, Graph::None, &log, 4);
  ASSERT_EQ(phi.size(), 2u);
  for (size_t k = 0; k < phi.size(); ++k) EXPECT_TRUE(torch::equal(phi[k], p.adaptive[k]));
  const auto lines = sink->last_formatted();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("user 4: empty support set"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("warning"), std::string::npos) << lines[0];
}

namespace {
// logit = tanh(e[item]) . w + b in double: e fixed, (w, b) adaptive. Small enough for finite differences.
class Tiny : public PointwiseModel {
 public:
  void bind(const PointwiseFields& f) override {
    auto o = torch::TensorOptions().dtype(torch::kDouble);
    e = register_parameter("e", torch::randn({f.num_items + 1, 2}, o));
    w = register_parameter("w", torch::randn({2}, o));
    b = register_parameter("b", torch::randn({1}, o));
  }
  torch::Tensor logits(const PointwiseBatch& x, const FastWeights& fw) override {
    return torch::tanh(fw(e).index_select(0, x.items)).matmul(fw(w)) + fw(b);
  }
  torch::Tensor e, w, b;
};

PointwiseBatch tiny_batch(const std::vector<int64_t>& items, const std::vector<double>& labels) {
  PointwiseBatch x;
  x.items = torch::tensor(items, torch::kLong);
  x.users = torch::zeros({static_cast<int64_t>(items.size())}, torch::kLong);
  x.labels = torch::tensor(labels, torch::kDouble);
  return x;
}
}  // namespace

TEST(MetaGradient, SecondOrderMatchesFiniteDifferencesAndFirstOrderDiffers) {
  torch::manual_seed(7);
  Tiny m;
  PointwiseFields f;
  f.num_items = 4;
  m.bind(f);
  const Partition p = partition(m, {"w", "b"});
  const auto s1 = tiny_batch({1, 2, 3}, {1, 0, 1}), q1 = tiny_batch({2, 4}, {1, 0});
  const auto s2 = tiny_batch({4, 1}, {0, 1}), q2 = tiny_batch({3, 1, 2}, {0, 1, 1});
  const std::vector<const PointwiseBatch*> sup{&s1, &s2}, qry{&q1, &q2};
  const AdaptOptions o{2, 0.7};
  auto grads = [&](Graph g) {
    for (auto& t : m.parameters()) t.mutable_grad() = torch::Tensor();
    meta_loss(m, p, sup, qry, o, g).backward();
    std::vector<torch::Tensor> out;
    for (auto& t : m.parameters()) out.push_back(t.grad().clone());
    return out;
  };
  const auto second = grads(Graph::Second), first = grads(Graph::First);
  // Central differences of the meta loss (adaptation included) in every coordinate of every parameter.
  auto value = [&] {
    torch::Tensor total = torch::zeros({}, torch::kDouble);
    for (size_t u = 0; u < sup.size(); ++u) {
      const auto phi = adapt(m, p, *sup[u], o, Graph::None);
      total = total + log_loss(m, *qry[u], fast_weights(p, phi)).detach();
    }
    return total.item<double>() / 2;
  };
  const double eps = 1e-6;
  double max_err = 0, first_gap = 0;
  auto params = m.parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    auto flat = params[k].detach().view({-1});
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double x0 = flat[i].item<double>();
      {
        torch::NoGradGuard g;
        flat[i] = x0 + eps;
      }
      const double up = value();
      {
        torch::NoGradGuard g;
        flat[i] = x0 - eps;
      }
      const double down = value();
      {
        torch::NoGradGuard g;
        flat[i] = x0;
      }
      const double fd = (up - down) / (2 * eps);
      max_err = std::max(max_err, std::abs(fd - second[k].view({-1})[i].item<double>()));
      first_gap = std::max(first_gap, std::abs(fd - first[k].view({-1})[i].item<double>()));
    }
  }
  EXPECT_LT(max_err, 1e-7);
  EXPECT_GT(first_gap, 1e-3);  // first order drops the curvature of the local update
  // First order = the query gradient at the adapted parameters taken as constants: for the fixed part its
  // gradient there, for the initialisation the gradient with respect to the adapted parameters (identity).
  std::vector<torch::Tensor> expect{torch::zeros_like(m.e), torch::zeros_like(m.w), torch::zeros_like(m.b)};
  for (size_t u = 0; u < sup.size(); ++u) {
    auto phi = adapt(m, p, *sup[u], o, Graph::None);
    for (auto& t : phi) t.requires_grad_(true);
    const auto l = log_loss(m, *qry[u], fast_weights(p, phi)) / 2;
    const auto g = torch::autograd::grad({l}, {m.e, phi[0], phi[1]});
    for (size_t k = 0; k < 3; ++k) expect[k] = expect[k] + g[k];
  }
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(torch::allclose(first[k], expect[k], 1e-10, 1e-12)) << k;
}

TEST(Ranking, HeldOutItemsRankAgainstEveryUnseenItem) {
  // Scores of items 1..6 (index 0 unused).
  const std::vector<float> scores{0, 9, 9, 0.5f, 0.7f, 0.5f, 0.1f};
  // Seen 1, 2, 3 (3 held out): candidates 4 (0.7, ahead), 5 (ties at 0.5, higher id: behind), 6.
  const auto r = rank_positives(scores, {3}, {1, 2, 3});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].candidates, 4);
  EXPECT_EQ(r[0].rank, 1);
  // Seen 1, 2, 5: 4 ahead, and 3 ties with 5 with the lower id: ahead too.
  EXPECT_EQ(rank_positives(scores, {5}, {1, 2, 5})[0].rank, 2);
  // Items the user saw (1, 2: scored 9) are never candidates.
  EXPECT_EQ(rank_positives(scores, {4}, {1, 2, 4})[0].rank, 0);
  EXPECT_THROW(rank_positives(scores, {7}, {}), InputError);
}

TEST(UserParamStore, StoresExactlyTheAdaptivePartPerUserAndLoadsItBack) {
  const DomainData d = domain();
  auto m = ctr_mlp(d);
  const Partition p = partition(*m, {"fc2_*", "out_*"});
  UserParamStore store(p);
  const auto a = adapt(*m, p, batch(d, 0, {{1, 1}, {7, 0}}), AdaptOptions{2, 0.5}, Graph::None);
  const auto b = adapt(*m, p, batch(d, 3, {{4, 1}, {12, 0}}), AdaptOptions{2, 0.5}, Graph::None);
  store.add(0, a);
  store.add(3, b);
  const fs::path dir = fs::temp_directory_path() / ("xrec-mpp-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string stem = (dir / "users").string();
  const int64_t bytes = store.write(stem);
  EXPECT_EQ(bytes, 2 * p.bytes_per_user());
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(stem + ".bin")), 2 * p.bytes_per_user());
  const auto back = UserParamStore::load(stem, 3);
  ASSERT_EQ(back.size(), b.size());
  for (size_t k = 0; k < b.size(); ++k) EXPECT_TRUE(torch::equal(back[k], b[k])) << p.adaptive_names[k];
  // Scoring the user later with the loaded parameters gives the adapted model's scores.
  const auto q = batch(d, 3, {{5, 1}, {11, 0}});
  EXPECT_TRUE(torch::allclose(m->logits(q, fast_weights(p, back)), m->logits(q, fast_weights(p, b))));
  test::expect_input_error([&] { UserParamStore::load(stem, 2); }, {"has no user 2"});
  fs::remove_all(dir);
}

// ---- the strategies end to end: the real binary on ml-100k (skipped where ../shared/data is absent) ----------

namespace {
const std::string kMl100k = std::string(XREC_TEST_SHARED_DATA) + "/ml-100k/ml-100k.inter";

std::string write_config(test::TempDir& dir, const std::string& transfer) {
  const std::string path = dir.file("mpp.yaml");
  // The data root is given: the run's working directory is a temporary folder with no ../shared/data beside it.
  std::ofstream(path) << "name: mpp-e2e\nthreads: 1\nseed: 3\ndata_root: " << XREC_TEST_SHARED_DATA << "\n"
                         "data:\n  target: {type: atomic, path: ml-100k, user_fields: [age, gender, occupation], "
                         "item_fields: [release_year, class]}\n"
                         "cold_start: {order: time, cold_fraction: 0.1, support: 10, negatives: 1}\n"
                         "pointwise_model: {type: ctr_mlp, dim: 8, hidden: [16, 16]}\n"
                         "transfer: " + transfer + "\n"
                         "eval: {protocol: pointwise}\ntrain: {select_metric: auc}\n";
  return path;
}

double final_value(const std::string& db, const std::string& key) {
  return std::stod(test::one_value(db, "SELECT value FROM final_metrics WHERE split = 'test' AND key = '" + key + "'"));
}
}  // namespace

// A cold-start run needs no backbone (the startup check accepted only backbone or baseline before), and the
// conventional strategy stores nothing per user.
TEST(MppE2E, ConventionalRunsWithoutABackbone) {
  if (!fs::exists(kMl100k)) GTEST_SKIP() << "real data not found at " << kMl100k;
  test::TempDir dir("mpp-conv");
  const std::string db = dir.file("xrec.db");
  auto r = test::xrec_cmd("run " + write_config(dir, "{type: pointwise, epochs: 1, rank_users: 5}") + " --db " + db);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(final_value(db, "storage_bytes_per_user"), 0.0);
  EXPECT_GT(final_value(db, "auc"), 0.6);  // one epoch already separates clicks from random items
  EXPECT_GT(final_value(db, "rank_hr@20"), 0.0);
}

TEST(MppE2E, OnlineStoresExactlyTheAdaptivePartAndScoresUsersLaterFromTheArtifact) {
  if (!fs::exists(kMl100k)) GTEST_SKIP() << "real data not found at " << kMl100k;
  test::TempDir dir("mpp-online");
  const std::string db = dir.file("xrec.db");
  auto r = test::xrec_cmd("run " +
                          write_config(dir, "{type: mpp-online, epochs: 1, first_order: true, meta_batch: 16, "
                                            "lr: 0.005, rank_users: 5, curve_every: 10}") +
                          " --db " + db);
  ASSERT_EQ(r.code, 0) << r.output;
  const int64_t per_user = 4 * (16 * 16 + 16 + 16 + 1);  // fc2 and out, float32
  EXPECT_EQ(final_value(db, "storage_bytes_per_user"), per_user);
  const double users = std::stod(test::one_value(db, "SELECT value FROM metrics WHERE stage = 'online' AND split = "
                                                     "'store' AND key = 'users'"));
  EXPECT_EQ(users, 94);  // round(0.1 * 943) cold users
  EXPECT_EQ(std::stod(test::one_value(db, "SELECT value FROM metrics WHERE stage = 'online' AND split = 'store' "
                                          "AND key = 'bytes'")),
            users * per_user);
  // The stored parameters read back reproduce the prequential scores of the early users exactly.
  EXPECT_NEAR(final_value(db, "early_stored_auc"), final_value(db, "early_prequential_auc"), 1e-9);
  EXPECT_NEAR(final_value(db, "early_stored_logloss"), final_value(db, "early_prequential_logloss"), 1e-6);
  EXPECT_GT(final_value(db, "adapt_ms_per_user"), 0.0);
  // The online curve: one window point per 10 users and the last partial one, step = users seen.
  const auto steps = test::one_value(db, "SELECT count(*) || ':' || max(step) FROM metrics WHERE stage = 'online' "
                                         "AND split = 'window' AND key = 'auc'");
  EXPECT_EQ(steps, "10:94");
  // The offline model's numbers on the same users are in the same run.
  EXPECT_FALSE(test::one_value(db, "SELECT value FROM metrics WHERE stage = 'offline' AND key = 'auc'").empty());
}

TEST(MppE2E, AnAdaptivePatternThatMatchesNothingFailsWithTheParameterNames) {
  if (!fs::exists(kMl100k)) GTEST_SKIP() << "real data not found at " << kMl100k;
  test::TempDir dir("mpp-bad");
  const std::string db = dir.file("xrec.db");
  auto r = test::xrec_cmd("run " + write_config(dir, "{type: melu, epochs: 1, adaptive: [decoder*]}") + " --db " + db);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("adaptive pattern 'decoder*' matches no parameter"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("out_weight"), std::string::npos) << r.output;
}
