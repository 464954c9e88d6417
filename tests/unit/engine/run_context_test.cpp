// The cold-start services of RunContext: the `cold_start:` section reaches the split, and pointwise
// evaluation is recorded in the store.
#include "xrec/engine/run_context.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "xrec/api/dataset.hpp"
#include "xrec/data/cold_start.hpp"
#include "xrec/engine/schema.hpp"

using namespace xrec;
using namespace xrec::engine;
namespace fs = std::filesystem;

namespace {
const Registry& registry() {
  static const Registry r = [] {
    Registry reg;
    Component c;
    c.kind = Kind::Dataset;
    c.name = "lines";
    c.params = {param::string("path", "", "File")};
    c.set_factory<Dataset>([](const Params&, const PluginContext&) -> std::shared_ptr<Dataset> { return nullptr; });
    reg.add(c);
    return reg;
  }();
  return r;
}

// Eight users with 5 interactions each over 30 items, no timestamps.
DomainData domain() {
  DomainData d;
  d.name = "toy";
  d.num_items = 30;
  for (int64_t u = 0; u < 8; ++u) d.sequences.push_back({u + 1, u + 2, u + 3, u + 4, u + 5});
  return d;
}

class ItemLogit : public PointwiseModel {
 public:
  void bind(const PointwiseFields&) override { s_ = register_parameter("s", torch::ones({1})); }
  torch::Tensor logits(const PointwiseBatch& b, const FastWeights& w) override {
    return w(s_) * (b.items.to(torch::kFloat) - 10);
  }
  torch::Tensor s_;
};

class RunContextColdStart : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("xrec-runctx-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};
}  // namespace

TEST_F(RunContextColdStart, SplitFollowsTheSectionAndEvaluationIsRecorded) {
  const ResolvedConfig config =
      Config::parse("data: {target: {type: lines, path: x}}\n"
                    "seed: 5\n"
                    "cold_start: {order: random, cold_fraction: 0.25, support: 3, negatives: 2}\n",
                    "test.yaml", {})
          .resolve(registry(), run_schema());
  Store store((dir_ / "xrec.db").string());
  RunInfo info;
  info.name = "t";
  info.config_yaml = config.yaml;
  const int64_t run = store.begin_run(info, {});
  const DomainData data = domain();
  Task target;
  target.name = "toy";
  target.role = "target";
  target.data = &data;
  PluginContext plugin;
  plugin.seed = 5;
  RunContext ctx(registry(), config, store, run, plugin, torch::kCPU, {target});

  const ColdStartTask& task = ctx.cold_start_task();
  EXPECT_EQ(&task, &ctx.cold_start_task());  // built once
  EXPECT_EQ(task.cold.size(), 2u);           // 0.25 of 8 users
  EXPECT_EQ(task.warm.size(), 6u);
  for (auto* part : {&task.warm, &task.cold})
    for (const UserTask& u : *part) {
      EXPECT_EQ(u.support.size(), 9u);  // 3 positives, 2 negatives each
      EXPECT_EQ(u.query.size(), 6u);    // 2 positives, 2 negatives each
    }
  // The same split the engine function gives for these options (the run's own stream of the seed).
  ColdStartOptions o;
  o.order = "random";
  o.cold_fraction = 0.25;
  o.support = 3;
  o.negatives = 2;
  o.seed = 5 * 7919 + 104729;
  const ColdStartTask direct = cold_start_split(data, o);
  ASSERT_EQ(direct.cold.size(), task.cold.size());
  for (size_t i = 0; i < direct.cold.size(); ++i) EXPECT_EQ(direct.cold[i].user, task.cold[i].user);

  const PointwiseFields fields = ctx.pointwise_fields();
  EXPECT_EQ(fields.num_users, 8);
  EXPECT_EQ(fields.num_items, 30);
  auto batch = ctx.pointwise_batch({&task.cold[0]}, UserPart::Query);
  EXPECT_EQ(batch.items.size(0), 6);
  EXPECT_EQ(batch.labels.sum().item<float>(), 2.f);

  ItemLogit model;
  model.bind(fields);
  const MetricMap m = ctx.evaluate_pointwise(model, task.cold, UserPart::Query, "meta", "cold_query");
  ASSERT_EQ(m.count("auc") + m.count("gauc") + m.count("logloss"), 3u);
  const QueryResult q = store.query("SELECT key, value FROM metrics WHERE stage = 'meta' AND split = 'cold_query' "
                                    "ORDER BY key");
  ASSERT_EQ(q.rows.size(), 3u);
  EXPECT_EQ(*q.rows[0][0], "auc");
  EXPECT_NEAR(std::stod(*q.rows[0][1]), m.at("auc"), 1e-12);
  EXPECT_EQ(*q.rows[2][0], "logloss");
  EXPECT_NEAR(std::stod(*q.rows[2][1]), m.at("logloss"), 1e-12);
}
