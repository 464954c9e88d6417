#pragma once
// The stage runner: shuffled batches of one domain or several interleaved, Adam / AdamW / SGD with
// parameter groups, frozen parameters kept out of the optimizer, validation every few epochs, early
// stopping on one validation metric in its direction, the best epoch's weights restored at the end.
// Test data never enters here.
#include <torch/types.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "xrec/api/model.hpp"
#include "xrec/api/stage.hpp"
#include "xrec/api/transfer.hpp"
#include "xrec/engine/batching.hpp"

namespace spdlog {
class logger;
}

namespace torch::optim {
class Optimizer;
}

namespace xrec::engine {

struct TrainOptions {
  int64_t epochs = 200;
  int64_t steps = 0;  // > 0: stop after this many optimizer steps (epochs then only pace validation)
  std::string optimizer = "adam";  // adam | adamw | sgd
  double lr = 1e-3;
  double weight_decay = 0;
  double momentum = 0;   // sgd only
  double grad_clip = 0;  // 0 = off
  std::vector<ParamGroup> groups;
  std::vector<std::string> freeze, reinit;  // glob patterns on named_parameters() names
  std::string mix = "proportional";        // proportional | uniform | round_robin | weighted
  uint64_t mix_seed = 0;                    // the interleaving's own stream (batches keep theirs)
  int64_t patience = 10;
  int64_t eval_every = 1;
  std::string select_metric = "ndcg@10";
};

// One domain of a stage: the model domain and its batches.
struct TrainDomain {
  int64_t model_domain = 0;
  TrainBatches* batches = nullptr;
  double weight = 1;
};

// Glob match: * any run of characters (dots included), ? one character.
bool glob_match(const std::string& pattern, const std::string& name);

// Applies freeze (requires_grad off, gradient dropped; every other parameter gets requires_grad on) and
// reinit (weights >= 2-d: Xavier normal; 1-d "*weight" (norms): ones; other 1-d: zeros) to `model`, and
// builds the optimizer over the parameters left trainable, grouped by `options.groups`.
// Throws InputError for a pattern that matches no parameter (a typo would silently freeze nothing).
std::unique_ptr<torch::optim::Optimizer> prepare_stage(torch::nn::Module& model, const TrainOptions& options,
                                                       const std::string& stage);

// The order in which one epoch visits the domains' batches (domain index per step); `batches[d]` is domain
// d's batch count. proportional and round_robin visit every batch once; uniform and weighted draw
// sum(batches) steps by domain share.
std::vector<size_t> interleave(const std::vector<int64_t>& batches, const std::vector<double>& weights,
                               const std::string& mix, std::mt19937_64& rng);

// Where a stage's loop stands after an epoch: what `xrec run --resume` needs to continue it exactly.
struct StageProgress {
  int64_t next_epoch = 0;  // epochs done
  int64_t steps = 0;       // optimizer steps done
  TrainResult result;
  BestTracker* best = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;
  std::mt19937_64* mix_rng = nullptr;
};

struct TrainHooks {
  std::function<MetricMap(SequenceModel&)> validate;  // validation metrics of the current weights
  // Records one value: split is "train" (loss, seconds) or "valid"; step is the 0-based epoch.
  std::function<void(const std::string& split, const std::string& key, int64_t step, double value)> record;
  std::function<void()> check_interrupted;
  // Optional. epoch_done: after every epoch (its metrics recorded), with the loop's state. resume: once
  // before the first epoch; it may fill the state from a checkpoint (next_epoch > 0 continues there).
  std::function<void(SequenceModel&, StageProgress&)> epoch_done, resume;
  std::shared_ptr<spdlog::logger> log;
  torch::Device device = torch::kCPU;
};

TrainResult train_stage(SequenceModel& model, const std::string& stage, const std::vector<TrainDomain>& domains,
                        const TrainOptions& options, const TrainHooks& hooks);

// One domain: train_stage with a single TrainDomain.
TrainResult train_model(SequenceModel& model, int64_t domain, const std::string& stage, TrainBatches& batches,
                        const TrainOptions& options, const TrainHooks& hooks);

}  // namespace xrec::engine
