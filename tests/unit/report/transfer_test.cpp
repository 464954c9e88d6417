// The view transfer_vs_scratch and the negative-transfer report on a hand-built store.
#include <gtest/gtest.h>

#include <cmath>

#include "report/report_fixture.hpp"
#include "support/temp_dir.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/report.hpp"

namespace xrec {
namespace {

using test::build_report_fixture;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

double sample_std(const std::vector<double>& x) {
  double m = 0, ss = 0;
  for (double v : x) m += v / static_cast<double>(x.size());
  for (double v : x) ss += (v - m) * (v - m);
  return std::sqrt(ss / static_cast<double>(x.size() - 1));
}

TEST(TransferView, PairsEveryTransferRunWithTheScratchRunOfItsSeed) {
  Store store(":memory:");
  auto f = build_report_fixture(store);
  auto q = store.query(
      "SELECT point_label, seed, transfer_run, reference_run, candidates, transfer_test, reference_test, relative_diff"
      " FROM transfer_vs_scratch ORDER BY point_label, seed");
  ASSERT_EQ(q.rows.size(), 6u);  // finetune and relearn, 3 seeds each; scratch is the reference
  for (size_t i = 0; i < 3; ++i) {
    const auto& ft = q.rows[i];  // "finetune" sorts first
    EXPECT_EQ(*ft[0], "finetune");
    EXPECT_EQ(std::stoll(*ft[1]), static_cast<int64_t>(i + 1));
    EXPECT_EQ(std::stoll(*ft[2]), f.finetune[i]);
    EXPECT_EQ(std::stoll(*ft[3]), f.scratch[i]);
    EXPECT_EQ(*ft[4], "1");
    EXPECT_NEAR(std::stod(*ft[7]), (f.finetune_test[i] - f.scratch_test[i]) / f.scratch_test[i], 1e-12);
    EXPECT_EQ(std::stoll(*q.rows[i + 3][3]), f.scratch[i]);  // relearn pairs with the same scratch runs
  }
}

TEST(TransferView, DataAndEvaluationMustMatchAndSettingsThatDoNotChangeResultsAreIgnored) {
  Store store(":memory:");
  auto f = build_report_fixture(store);
  // A transfer run on another target dataset: no reference matches it.
  const int64_t other = test::add_fixture_run(store, f.sweep, "finetune-sports", "finetune", 1, 0.05,
                                              std::vector<int64_t>(60, 1), "sports");
  auto q = store.query("SELECT candidates, reference_run FROM transfer_vs_scratch WHERE transfer_run = " +
                       std::to_string(other));
  ASSERT_EQ(q.rows.size(), 1u);
  EXPECT_EQ(*q.rows[0][0], "0");
  EXPECT_FALSE(q.rows[0][1].has_value());
  // eval.batch_size and data.target.cache differ without breaking a pair.
  store.query(
      "UPDATE params SET value = '64' WHERE key = 'eval.batch_size' AND run_id = " + std::to_string(f.finetune[0]),
      false);
  store.query(
      "UPDATE params SET value = 'false' WHERE key = 'data.target.cache' AND run_id = " + std::to_string(f.finetune[0]),
      false);
  EXPECT_EQ(
      *store
           .query("SELECT reference_run FROM transfer_vs_scratch WHERE transfer_run = " + std::to_string(f.finetune[0]))
           .rows[0][0],
      std::to_string(f.scratch[0]));
  // Another protocol does break it.
  store.query(
      "UPDATE params SET value = 'sampled' WHERE key = 'eval.protocol' AND run_id = " + std::to_string(f.finetune[0]),
      false);
  EXPECT_EQ(
      *store.query("SELECT candidates FROM transfer_vs_scratch WHERE transfer_run = " + std::to_string(f.finetune[0]))
           .rows[0][0],
      "0");
  // The report leaves both out with a note naming the run.
  auto rep = report::transfer_report(store, f.sweep);
  ASSERT_EQ(rep.notes.size(), 2u);
  EXPECT_NE(rep.notes[0].find("transfer run " + std::to_string(f.finetune[0])), std::string::npos);
}

TEST(TransferView, AVariantThatReadsNoSourceDomainIsNotATransferRun) {
  Store store(":memory:");
  auto f = build_report_fixture(store);
  // Another scratch baseline beside the reference (scratch with ids beside scratch with the encoder), much
  // worse: it trained on the target alone, so it is not a transfer run and must not be flagged as one.
  const int64_t ids = test::add_fixture_run(store, f.sweep, "scratch-ids", "scratch-ids", 1, 0.02,
                                            std::vector<int64_t>(60, 40));
  EXPECT_EQ(*store.query("SELECT count(*) FROM transfer_vs_scratch WHERE transfer_run = " + std::to_string(ids))
                 .rows[0][0],
            "0");
  EXPECT_EQ(*store.query("SELECT count(*) FROM transfer_vs_scratch").rows[0][0], "6");
  for (const auto& row : report::transfer_report(store, f.sweep).rows) EXPECT_NE(row.variant, "scratch-ids");
}

TEST(TransferView, SweepWithoutReferenceHasNoRows) {
  Store store(":memory:");
  auto f = build_report_fixture(store);
  store.set_sweep_reference(f.sweep, "");
  EXPECT_TRUE(store.query("SELECT * FROM transfer_vs_scratch").rows.empty());
  EXPECT_NE(error_of([&] { report::transfer_report(store, f.sweep); }).find("names no reference variant"),
            std::string::npos);
}

TEST(TransferReport, SpreadOverSeedsPairedTestAndNegativeTransferFlag) {
  Store store(":memory:");
  auto f = build_report_fixture(store);
  auto rep = report::transfer_report(store, f.sweep);
  ASSERT_EQ(rep.rows.size(), 2u);
  const auto& ft = rep.rows[0];
  EXPECT_EQ(ft.variant, "finetune");
  EXPECT_EQ(ft.reference, "scratch");
  EXPECT_EQ(ft.seeds, (std::vector<int64_t>{1, 2, 3}));
  std::vector<double> rel;
  for (size_t i = 0; i < 3; ++i) rel.push_back((f.finetune_test[i] - f.scratch_test[i]) / f.scratch_test[i]);
  EXPECT_NEAR(ft.relative_mean, (rel[0] + rel[1] + rel[2]) / 3, 1e-12);
  EXPECT_NEAR(ft.relative_std, sample_std(rel), 1e-12);
  EXPECT_NEAR(ft.transfer_mean, 0.09, 1e-12);
  EXPECT_NEAR(ft.reference_mean, 0.11, 1e-12);
  EXPECT_NEAR(ft.reference_std, 0.01, 1e-12);
  // Pooled cases: 3 seeds x 60 users; 50 of each seed's users lost 3 ranks.
  ASSERT_TRUE(ft.tested) << ft.note;
  EXPECT_EQ(ft.cases, 180);
  double expected = 0;
  for (int64_t u = 0; u < 50; ++u) {
    const int64_t r = u % 15;
    auto ndcg = [](int64_t rank) { return rank < 10 ? 1.0 / std::log2(static_cast<double>(rank) + 2) : 0.0; };
    expected += (ndcg(r + 3) - ndcg(r)) / 60;
  }
  EXPECT_NEAR(ft.diff, expected, 1e-12);
  EXPECT_LT(ft.wilcoxon_p, 1e-6);
  EXPECT_EQ(ft.verdict, "negative transfer");
  const auto& rl = rep.rows[1];
  EXPECT_EQ(rl.variant, "relearn");
  ASSERT_TRUE(rl.tested);
  EXPECT_GT(rl.wilcoxon_p, 0.05);
  EXPECT_NE(rl.verdict, "negative transfer");
}

TEST(TransferReport, AmbiguousReferenceIsRefusedNotGuessed) {
  Store store(":memory:");
  auto f = build_report_fixture(store);
  // A second scratch point (a grid value) with the same seed, data and evaluation as the first.
  test::add_fixture_run(store, f.sweep, "scratch train.lr=0.01", "scratch", 1, 0.2, std::vector<int64_t>(60, 0));
  auto q = store.query("SELECT candidates, reference_run FROM transfer_vs_scratch WHERE transfer_run = " +
                       std::to_string(f.finetune[0]));
  EXPECT_EQ(*q.rows[0][0], "2");
  EXPECT_FALSE(q.rows[0][1].has_value());
  const std::string e = error_of([&] { report::transfer_report(store, f.sweep); });
  EXPECT_NE(e.find("ambiguous"), std::string::npos) << e;
  EXPECT_NE(e.find("transfer run " + std::to_string(f.finetune[0])), std::string::npos) << e;
  EXPECT_NE(e.find("matches 2 runs of reference variant 'scratch'"), std::string::npos) << e;
}

TEST(TransferReport, MissingCaseRanksFallBackToSeedsWithANote) {
  Store store(":memory:");
  auto f = build_report_fixture(store);
  store.query("DELETE FROM case_ranks WHERE run_id = " + std::to_string(f.finetune[1]), false);
  auto rep = report::transfer_report(store, f.sweep);
  EXPECT_FALSE(rep.rows[0].tested);
  EXPECT_NE(rep.rows[0].note.find("run " + std::to_string(f.finetune[1])), std::string::npos) << rep.rows[0].note;
  EXPECT_EQ(rep.rows[0].verdict, "worse (not significant)");
}

TEST(TransferReport, UnknownSweepIsAnInputError) {
  Store store(":memory:");
  build_report_fixture(store);
  EXPECT_NE(error_of([&] { report::transfer_report(store, 99); }).find("no sweep 99"), std::string::npos);
}

}  // namespace
}  // namespace xrec
