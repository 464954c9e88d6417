#include "xrec/engine/batching.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

using namespace xrec;
using namespace xrec::engine;

namespace {
Task task_of(DomainData& d) {
  Task t;
  t.name = d.name;
  t.data = &d;
  t.train = d.sequences;
  return t;
}
std::vector<int64_t> row(const torch::Tensor& t, int64_t r) {
  auto c = t[r].contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}
}  // namespace

TEST(Batching, NextItemTargetsRightAligned) {
  DomainData d;
  d.name = "toy";
  d.num_items = 9;
  d.sequences = {{1, 2, 3, 4, 5}, {6, 7}, {8}};
  Task t = task_of(d);
  BatchOptions o;
  o.max_len = 3;
  o.batch_size = 8;
  TrainBatches batches(t, o, 1);
  EXPECT_EQ(batches.num_samples(), 2);  // the single-item sequence has no target
  EXPECT_EQ(batches.num_batches(), 1);
  Batch b = batches.get(0);  // unshuffled: original order
  EXPECT_EQ(row(b.inputs, 0), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(row(b.targets, 0), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(row(b.inputs, 1), (std::vector<int64_t>{0, 0, 6}));
  EXPECT_EQ(row(b.targets, 1), (std::vector<int64_t>{0, 0, 7}));
  EXPECT_FALSE(b.negatives.defined());
}

TEST(Batching, BatchOfGivenSamplesAndTheirLengths) {
  DomainData d;
  d.name = "toy";
  d.num_items = 9;
  d.sequences = {{1, 2, 3, 4, 5}, {6, 7}, {8}, {2, 9, 4}};
  Task t = task_of(d);
  BatchOptions o;
  o.max_len = 3;
  TrainBatches batches(t, o, 1);
  ASSERT_EQ(batches.num_samples(), 3);
  EXPECT_EQ(batches.sample_length(0), 3);  // 4 pairs, capped at max_len
  EXPECT_EQ(batches.sample_length(1), 1);
  EXPECT_EQ(batches.sample_length(2), 2);
  EXPECT_THROW(batches.sample_length(3), std::exception);
  Batch b = batches.batch_of({2, 1});  // narrowed to its longest row
  ASSERT_EQ(b.inputs.size(1), 2);
  EXPECT_EQ(row(b.inputs, 0), (std::vector<int64_t>{2, 9}));
  EXPECT_EQ(row(b.targets, 0), (std::vector<int64_t>{9, 4}));
  EXPECT_EQ(row(b.inputs, 1), (std::vector<int64_t>{0, 6}));
  EXPECT_EQ(row(b.targets, 1), (std::vector<int64_t>{0, 7}));
}

TEST(Batching, PrefixSamplesCoverEveryTransitionWithItsContext) {
  DomainData d;
  d.name = "toy";
  d.num_items = 9;
  d.sequences = {{1, 2, 3, 4, 5}, {6, 7}, {8}};
  Task t = task_of(d);
  BatchOptions o;
  o.max_len = 3;
  o.batch_size = 16;
  o.samples = BatchOptions::Samples::Prefix;
  TrainBatches batches(t, o, 1);
  EXPECT_EQ(batches.num_samples(), 5);  // 4 transitions of the first sequence, 1 of the second
  Batch b = batches.get(0);              // unshuffled: sequence order, then target position
  ASSERT_EQ(b.inputs.size(1), 3);
  EXPECT_EQ(row(b.inputs, 0), (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(row(b.targets, 0), (std::vector<int64_t>{0, 0, 2}));
  EXPECT_EQ(row(b.inputs, 2), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(row(b.targets, 2), (std::vector<int64_t>{0, 0, 4}));
  EXPECT_EQ(row(b.inputs, 3), (std::vector<int64_t>{2, 3, 4}));  // the last max_len items before the target
  EXPECT_EQ(row(b.targets, 3), (std::vector<int64_t>{0, 0, 5}));
  EXPECT_EQ(row(b.inputs, 4), (std::vector<int64_t>{0, 0, 6}));
  EXPECT_EQ(row(b.targets, 4), (std::vector<int64_t>{0, 0, 7}));
  EXPECT_EQ(b.targets.gt(0).sum().item<int64_t>(), 5);  // one target per sample
}

TEST(Batching, WindowSamplesTrainEveryTransitionOnceWithHalfAWindowOfContext) {
  DomainData d;
  d.name = "toy";
  d.num_items = 12;
  d.sequences = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {11, 12}};
  Task t = task_of(d);
  BatchOptions o;
  o.max_len = 4;
  o.batch_size = 16;
  o.samples = BatchOptions::Samples::Window;
  TrainBatches batches(t, o, 1);
  // Targets 2..10 of the first sequence: windows ending at 10, 8, 6, 4 (the last reaches the start).
  EXPECT_EQ(batches.num_samples(), 5);
  Batch b = batches.get(0);
  EXPECT_EQ(row(b.inputs, 0), (std::vector<int64_t>{6, 7, 8, 9}));
  EXPECT_EQ(row(b.targets, 0), (std::vector<int64_t>{0, 0, 9, 10}));
  EXPECT_EQ(row(b.inputs, 1), (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(row(b.targets, 1), (std::vector<int64_t>{0, 0, 7, 8}));
  EXPECT_EQ(row(b.targets, 2), (std::vector<int64_t>{0, 0, 5, 6}));
  EXPECT_EQ(row(b.inputs, 3), (std::vector<int64_t>{0, 1, 2, 3}));  // reaches the start: every target
  EXPECT_EQ(row(b.targets, 3), (std::vector<int64_t>{0, 2, 3, 4}));
  EXPECT_EQ(row(b.targets, 4), (std::vector<int64_t>{0, 0, 0, 12}));
  EXPECT_EQ(b.targets.gt(0).sum().item<int64_t>(), 10);  // 9 + 1 transitions, each once
}

TEST(Batching, NegativesAreItemsTheUserNeverSaw) {
  DomainData d;
  d.name = "toy";
  d.num_items = 6;
  d.sequences = {{1, 2, 3, 4}};
  Task t = task_of(d);
  BatchOptions o;
  o.max_len = 4;
  o.negatives = 5;
  TrainBatches batches(t, o, 3);
  Batch b = batches.get(0);
  ASSERT_EQ(b.negatives.sizes(), (std::vector<int64_t>{1, 3, 5}));  // three (input, target) pairs
  auto neg = b.negatives.flatten();
  auto tg = b.targets.flatten();
  for (int64_t pos = 0; pos < 3; ++pos) {
    if (tg[pos].item<int64_t>() == 0) continue;
    for (int64_t j = 0; j < 5; ++j) {
      int64_t n = neg[pos * 5 + j].item<int64_t>();
      EXPECT_TRUE(n == 5 || n == 6) << n;
    }
  }
}

TEST(Batching, ShuffleAndSampleAreSeeded) {
  DomainData d;
  d.name = "toy";
  d.num_items = 50;
  for (int64_t u = 0; u < 40; ++u) d.sequences.push_back({u + 1, u + 2, u + 3});
  Task t = task_of(d);
  BatchOptions o;
  o.batch_size = 10;
  o.max_len = 4;
  TrainBatches a(t, o, 11), b(t, o, 11), c(t, o, 12);
  a.shuffle();
  b.shuffle();
  c.shuffle();
  EXPECT_TRUE(torch::equal(a.get(0).inputs, b.get(0).inputs));
  EXPECT_FALSE(torch::equal(a.get(0).inputs, c.get(0).inputs));
  EXPECT_EQ(a.sample(7).inputs.size(0), 7);
}

TEST(Batching, PackHistoriesKeepsTheMostRecentItems) {
  std::vector<int64_t> h1{1, 2, 3, 4, 5}, h2{9};
  auto p = pack_histories({&h1, &h2}, 3);
  EXPECT_EQ(row(p, 0), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(row(p, 1), (std::vector<int64_t>{0, 0, 9}));
  EXPECT_EQ(pack_histories({&h2}, 50).size(1), 1);  // only as wide as the longest history
}

TEST(Batching, BatchesAreOnlyAsWideAsTheirLongestRow) {
  DomainData d;
  d.name = "toy";
  d.num_items = 9;
  d.sequences = {{1, 2, 3}, {4, 5}};
  Task t = task_of(d);
  BatchOptions o;
  o.max_len = 50;
  TrainBatches batches(t, o, 1);
  Batch b = batches.get(0);
  EXPECT_EQ(row(b.inputs, 0), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(row(b.inputs, 1), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(row(b.targets, 1), (std::vector<int64_t>{0, 5}));
}

TEST(Batching, StreamsDependOnTheTaskNotOnTheOrderOfFirstUse) {
  DomainData a, b;
  a.name = "A";
  b.name = "B";
  a.num_items = b.num_items = 9;
  a.sequences = {{1, 2, 3, 4}, {5, 6, 7}, {8, 9, 1}, {2, 4, 6}};
  b.sequences = {{1, 3, 5}, {7, 9, 2}, {4, 6, 8}, {3, 3, 3}};
  Task ta = task_of(a), tb = task_of(b);
  ta.role = "source";
  tb.role = "source";
  Task target = task_of(a);
  target.role = "target";
  // The target keeps the stream the first task used to get (seed * 7919 + 1): scratch's numbers hold.
  EXPECT_EQ(batch_seed(42, target), 42u * 7919 + 1);
  EXPECT_NE(batch_seed(42, ta), batch_seed(42, tb));
  EXPECT_NE(batch_seed(42, ta), batch_seed(42, target));
  EXPECT_EQ(batch_seed(42, ta), batch_seed(42, task_of(a) = ta));  // a function of (seed, role, name) only
  BatchOptions o;
  o.max_len = 3;
  o.batch_size = 2;
  // Using A first or B first gives A the same batches.
  auto first_batch = [&](bool a_first) {
    std::vector<std::unique_ptr<TrainBatches>> made;
    for (const Task* t : a_first ? std::vector<const Task*>{&ta, &tb} : std::vector<const Task*>{&tb, &ta})
      made.push_back(std::make_unique<TrainBatches>(*t, o, batch_seed(7, *t)));
    TrainBatches& ba = *made[a_first ? 0 : 1];
    ba.shuffle();
    return ba.get(0).inputs;
  };
  EXPECT_TRUE(torch::equal(first_batch(true), first_batch(false)));
  // Identity: same role and name but other data is another task.
  Task changed = ta;
  changed.train[0][0] = 9;
  EXPECT_NE(task_identity(ta), task_identity(changed));
  EXPECT_EQ(task_identity(ta), task_identity(Task(ta)));
}
