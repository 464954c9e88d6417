// Stage reuse pieces: init_from parsing and checks against the store, checkpoint loading that names a
// mismatching parameter, the stage cache's entries, and a stage resumed from its last epoch continuing
// exactly as the uninterrupted stage did.
#include "xrec/engine/stage_cache.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <fstream>

#include "support/temp_dir.hpp"
#include "support/tiny_model.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/engine/trainer.hpp"
#include "xrec/sha256.hpp"

using namespace xrec;
using namespace xrec::engine;
using xrec::testing::TinyModel;
namespace fs = std::filesystem;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

std::vector<torch::Tensor> params_of(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

int64_t add_run(Store& store) {
  RunInfo info;
  info.name = "t";
  info.config_yaml = "x: 1\n";
  info.config_hash = std::string(64, 'a');
  return store.begin_run(info, {});
}
}  // namespace

TEST(StageCache, InitFromIsRunIdSlashStage) {
  const InitFrom f = parse_init_from("run:12/pre_train", "stages.finetune.init_from");
  EXPECT_EQ(f.run, 12);
  EXPECT_EQ(f.stage, "pre_train");
  for (const char* bad : {"12/train", "run:/train", "run:a/train", "run:3/", "run:0/train", "run:3", "train"}) {
    const std::string e = error_of([&] { parse_init_from(bad, "stages.finetune.init_from"); });
    EXPECT_NE(e.find("stages.finetune.init_from: '" + std::string(bad) + "'"), std::string::npos) << e;
    EXPECT_NE(e.find("run:<id>/<stage>"), std::string::npos) << e;
  }
}

TEST(StageCache, InitFromCheckpointMustExistUnchanged) {
  xrec::test::TempDir dir("stagecache");
  Store store(dir.file("xrec.db"));
  const int64_t run = add_run(store);
  const std::string key = "stages.ft.init_from";
  EXPECT_NE(error_of([&] { find_init_checkpoint(store, {run + 5, "train"}, key); }).find("has no run " +
                                                                                         std::to_string(run + 5)),
            std::string::npos);
  EXPECT_NE(error_of([&] { find_init_checkpoint(store, {run, "train"}, key); }).find("no checkpoint of stage 'train'"),
            std::string::npos);

  TinyModel model(5);
  const std::string path = dir.file("train-best.pt");
  save_module(model, path);
  store.add_artifact(run, "checkpoint", path, static_cast<int64_t>(fs::file_size(path)), sha256_file(path));
  // Another stage's checkpoint (whose name ends like this one's) is not it.
  EXPECT_NE(error_of([&] { find_init_checkpoint(store, {run, "rain"}, key); }).find("no checkpoint"), std::string::npos);
  const CheckpointRecord rec = find_init_checkpoint(store, {run, "train"}, key);
  EXPECT_EQ(rec.path, path);
  EXPECT_EQ(rec.sha256, sha256_file(path));

  std::ofstream(path, std::ios::app) << "x";
  const std::string modified = error_of([&] { find_init_checkpoint(store, {run, "train"}, key); });
  EXPECT_NE(modified.find("stages.ft.init_from: run:" + std::to_string(run) + "/train"), std::string::npos) << modified;
  EXPECT_NE(modified.find("was modified"), std::string::npos) << modified;
  fs::remove(path);
  EXPECT_NE(error_of([&] { find_init_checkpoint(store, {run, "train"}, key); }).find("is missing"), std::string::npos);
}

TEST(StageCache, ACheckpointOfAnotherShapeNamesTheParameterAndLeavesTheModel) {
  xrec::test::TempDir dir("stagecache");
  TinyModel small(5), other(7);
  const std::string path = dir.file("m.pt");
  save_module(other, path);
  const auto before = params_of(small);
  const std::string e = error_of([&] { load_module(small, path, "cpu", "stages.ft.init_from: checkpoint m.pt"); });
  EXPECT_NE(e.find("stages.ft.init_from: checkpoint m.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("items.weight has shape [8, 4], the model expects [6, 4]"), std::string::npos) << e;
  EXPECT_TRUE(same(params_of(small), before));  // nothing half-loaded

  TinyModel same_shape(5);
  {
    torch::NoGradGuard g;
    same_shape.head->weight.add_(1);
  }
  save_module(same_shape, path);
  load_module(small, path, "cpu", "checkpoint");
  EXPECT_TRUE(same(params_of(small), params_of(same_shape)));
}

TEST(StageCache, StateHashFollowsEveryWeight) {
  TinyModel a(5), b(5);
  EXPECT_EQ(state_hash(a), state_hash(b));  // same seed inside TinyModel: same weights
  {
    torch::NoGradGuard g;
    b.head->bias[1] += 1e-6;
  }
  EXPECT_NE(state_hash(a), state_hash(b));
  EXPECT_EQ(state_hash(a).size(), 64u);
}

TEST(StageCache, EntriesRoundTripAndAPartialOrCorruptEntryIsAMiss) {
  xrec::test::TempDir dir("stagecache");
  const fs::path cache = dir.file("cache");
  const std::string key(64, 'b');
  EXPECT_FALSE(read_cache_entry(cache, key));
  TinyModel model(5);
  {
    torch::NoGradGuard g;
    model.head->weight.mul_(3);
  }
  TrainResult r;
  r.epochs_run = 7;
  r.best_epoch = 4;
  r.best_score = 0.1 + 0.2;  // not exactly 0.3: the text keeps every bit
  r.best_valid = {{"ndcg@10", 0.1 + 0.2}, {"hr@10", 1.0 / 3}};
  const std::string rng = torch_rng_state();
  const CacheEntry w = write_cache_entry(cache, key, model, r, rng, {{std::string("target\0toy", 10), "1 2 3"}});
  EXPECT_EQ(w.sha256, sha256_file(w.path));
  // Only the two files remain (the temporary ones were renamed).
  int files = 0;
  for (auto& f : fs::directory_iterator(cache)) {
    ++files;
    EXPECT_EQ(f.path().string().find(".tmp."), std::string::npos);
  }
  EXPECT_EQ(files, 2);

  const auto e = read_cache_entry(cache, key);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->result.epochs_run, 7);
  EXPECT_EQ(e->result.best_epoch, 4);
  EXPECT_EQ(e->result.best_score, 0.1 + 0.2);
  EXPECT_EQ(e->result.best_valid.at("hr@10"), 1.0 / 3);
  EXPECT_EQ(e->torch_rng, rng);
  EXPECT_EQ(e->batches.at(std::string("target\0toy", 10)), "1 2 3");
  TinyModel loaded(5);
  load_module(loaded, e->path, "cpu", "entry");
  EXPECT_TRUE(same(params_of(loaded), params_of(model)));

  std::ofstream(e->path, std::ios::app) << "corrupt";
  EXPECT_FALSE(read_cache_entry(cache, key));  // the recorded checksum no longer holds
  write_cache_entry(cache, key, model, r, rng, {});
  ASSERT_TRUE(read_cache_entry(cache, key));  // overwritten by the next store
  fs::remove(cache / (key + ".meta"));
  EXPECT_FALSE(read_cache_entry(cache, key));  // no .meta: incomplete
}

TEST(StageCache, TheTorchGeneratorStateRoundTrips) {
  torch::manual_seed(3);
  const std::string s = torch_rng_state();
  const torch::Tensor a = torch::rand({5});
  set_torch_rng_state(s);
  EXPECT_TRUE(torch::equal(a, torch::rand({5})));
}

// A stage interrupted after epoch 2 and resumed from its last-epoch file ends with exactly the weights and
// result of the same stage run without interruption: Adam's moments, the best tracker and its snapshot, the
// batch order and the step counters all continue.
TEST(StageCache, AResumedStageContinuesExactly) {
  xrec::test::TempDir dir("stagecache");
  DomainData data;
  data.name = "toy";
  data.num_items = 6;
  for (int64_t u = 0; u < 14; ++u) data.sequences.push_back({1 + u % 6, 1 + (u + 1) % 6, 1 + (u + 3) % 6});
  Task task;
  task.name = "toy";
  task.role = "target";
  task.data = &data;
  task.train = data.sequences;
  BatchOptions bo;
  bo.max_len = 3;
  bo.batch_size = 4;
  TrainOptions o;
  o.epochs = 6;
  o.lr = 0.05;
  o.patience = 100;
  auto hooks = [] {
    TrainHooks h;
    // A validation score that depends on the weights only: the best epoch is whatever the weights make it.
    h.validate = [](SequenceModel& m) {
      auto& t = dynamic_cast<TinyModel&>(m);
      return MetricMap{{"ndcg@10", std::sin(10 * t.head->weight.sum().item<double>())}};
    };
    h.record = [](const std::string&, const std::string&, int64_t, double) {};
    h.log = std::make_shared<spdlog::logger>("stage_cache_test");
    return h;
  };
  const std::string last = dir.file("s-last.pt");
  const std::string after2 = dir.file("after2.pt");

  TinyModel full(6);
  TrainBatches full_batches(task, bo, 9);
  TrainHooks h1 = hooks();
  h1.epoch_done = [&](SequenceModel& m, StageProgress& p) {
    save_progress(last, m, p, {{"toy", full_batches.state()}});
    if (p.next_epoch == 2) fs::copy_file(last, after2, fs::copy_options::overwrite_existing);
  };
  const TrainResult want = train_model(full, 0, "s", full_batches, o, h1);

  TinyModel resumed(6);
  TrainBatches resumed_batches(task, bo, 9);
  TrainHooks h2 = hooks();
  int64_t resumed_at = -1;
  h2.resume = [&](SequenceModel& m, StageProgress& p) {
    std::map<std::string, std::string> states;
    ASSERT_TRUE(load_progress(after2, m, p, states, "cpu"));
    resumed_batches.set_state(states.at("toy"));
    resumed_at = p.next_epoch;
  };
  const TrainResult got = train_model(resumed, 0, "s", resumed_batches, o, h2);
  EXPECT_EQ(resumed_at, 2);
  EXPECT_EQ(got.epochs_run, want.epochs_run);
  EXPECT_EQ(got.best_epoch, want.best_epoch);
  EXPECT_EQ(got.best_score, want.best_score);
  EXPECT_TRUE(same(params_of(resumed), params_of(full)));

  // Without the optimizer's state (a fresh Adam from the same weights) the result differs: the test would
  // catch a resume that dropped it.
  TinyModel naive(6);
  TrainBatches naive_batches(task, bo, 9);
  TrainHooks h3 = hooks();
  h3.resume = [&](SequenceModel& m, StageProgress& p) {
    std::map<std::string, std::string> states;
    TinyModel scratch(6);
    StageProgress q = p;
    auto opt = torch::optim::Adam(scratch.parameters(), torch::optim::AdamOptions(0.05));
    q.optimizer = &opt;
    ASSERT_TRUE(load_progress(after2, m, q, states, "cpu"));
    naive_batches.set_state(states.at("toy"));
    p.next_epoch = q.next_epoch;
    p.steps = q.steps;
    p.result = q.result;
  };
  train_model(naive, 0, "s", naive_batches, o, h3);
  EXPECT_FALSE(same(params_of(naive), params_of(full)));
}

// Equal weights give equal checkpoint files: the archive is written through a stream, so its zip root is not
// named after the temporary file (pid and counter), as archive.save_to(path) names it. Two cache entries of
// one pre-training (two trials that trained the same key at once) have one checksum.
TEST(StageCache, EqualWeightsGiveByteIdenticalCheckpoints) {
  xrec::test::TempDir dir("stagecache-bytes");
  TinyModel a(5), b(5);
  save_module(a, dir.file("a.pt"));
  save_module(b, dir.file("b.pt"));
  EXPECT_EQ(sha256_file(dir.file("a.pt")), sha256_file(dir.file("b.pt")));
  TrainResult r;
  const CacheEntry first = write_cache_entry(dir.file("one"), std::string(64, 'c'), a, r, "", {});
  const CacheEntry second = write_cache_entry(dir.file("two"), std::string(64, 'c'), b, r, "", {});
  EXPECT_EQ(first.sha256, second.sha256);
  TinyModel loaded(5);
  {
    torch::NoGradGuard g;
    for (auto& p : loaded.parameters()) p.mul_(2);
  }
  load_module(loaded, dir.file("b.pt"), "cpu", "checkpoint");
  EXPECT_TRUE(same(params_of(loaded), params_of(a)));
  {
    torch::NoGradGuard g;
    b.head->bias[0] += 1e-6;
  }
  save_module(b, dir.file("b.pt"));
  EXPECT_NE(sha256_file(dir.file("a.pt")), sha256_file(dir.file("b.pt")));
}
