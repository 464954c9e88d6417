#pragma once
// Transfer strategy plugins: decide how source and target domains are used to train the model
// (scratch, pre-train + fine-tune, joint, meta transfer, re-learning). The host provides the model
// factory, the standard trainer, the evaluator and the metric sink through TransferContext.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xrec/api/context.hpp"
#include "xrec/api/metrics.hpp"
#include "xrec/api/model.hpp"
#include "xrec/api/pointwise_model.hpp"
#include "xrec/api/stage.hpp"
#include "xrec/api/task.hpp"

namespace xrec {

// What a strategy does under data parallelism (`xrec run --nproc N`, srun, `distributed:` keys; ADR 0016).
enum class DataParallel {
  engine,  // trains only through run_stage / train: the engine shards every batch and all-reduces gradients.
           //   A custom-loop call (sample_batch, pointwise_batch) is then refused when it happens.
  own,     // runs its own loop and handles the ranks itself: sample_batch / pointwise_batch are allowed, the
           //   strategy takes its share by rank() / world_size() and calls allreduce_gradients() after backward.
  none,    // cannot run data-parallel: refused before it starts, with its name in the message.
};


struct TrainResult {
  int64_t epochs_run = 0;
  int64_t best_epoch = -1;     // 0-based epoch whose weights were kept
  double best_score = 0;       // the validation metric that chose it
  MetricMap best_valid;        // all validation metrics at best_epoch
};

struct TransferResult {
  MetricMap valid;  // target validation metrics of the final model
  MetricMap test;   // target test metrics of the final model (recorded, never used for selection)
};

class TransferContext {
 public:
  virtual ~TransferContext() = default;

  virtual const Task& target() const = 0;
  virtual const std::vector<Task>& sources() const = 0;
  virtual const PluginContext& plugin() const = 0;

  // A fresh model over `domains` (each gets its own item table; model domain index = position).
  virtual std::shared_ptr<SequenceModel> make_model(const std::vector<const Task*>& domains) = 0;
  // Runs one training stage (see stage.hpp): the spec's options are defaults, the config's `train:` merged
  // with `stages.<spec.name>` overrides them. Leaves the best weights in the model.
  virtual TrainResult run_stage(SequenceModel& model, const StageSpec& spec) = 0;
  // One-domain shorthand: run_stage with model domain `domain` trained and validated on `task`.
  virtual TrainResult train(SequenceModel& model, int64_t domain, const Task& task, const std::string& stage) = 0;
  // Evaluates with the configured protocol (full ranking or sampled) and records the metrics under `stage`;
  // under fast weights `w` when given (an adapted model, without copying its weights in place).
  virtual MetricMap evaluate(SequenceModel& model, int64_t domain, const Task& task, Split split,
                             const std::string& stage, const FastWeights& w = FastWeights()) = 0;
  // Validation metrics of `task` under `w` (nothing recorded): for custom loops with a BestTracker.
  virtual MetricMap validate(SequenceModel& model, int64_t domain, const Task& task,
                             const FastWeights& w = FastWeights()) = 0;
  // Writes `model` to the run folder as <stage>-best.pt (an artifact row of kind checkpoint); a no-op
  // when checkpoints are off (save_checkpoint: false or no run folder). Returns the path or "".
  virtual std::string save_checkpoint(SequenceModel& model, const std::string& stage) = 0;
  // Loads a checkpoint file written by save_checkpoint into `model`; a shape mismatch names the parameter.
  virtual void load_checkpoint(SequenceModel& model, const std::string& path) = 0;
  // A random training batch of `task` for custom loops (meta learning), drawn from the run's seeded RNG.
  virtual Batch sample_batch(const Task& task, int64_t batch_size) = 0;
  // Records one metric of a custom loop.
  virtual void log_metric(const std::string& stage, const std::string& split, const std::string& key,
                          double value, int64_t step) = 0;
  // Throws xrec::Interrupted when the user asked to stop; call it inside long custom loops.
  virtual void check_interrupted() const = 0;

  // ---- data parallelism for custom loops of strategies that declare DataParallel::own ----
  // This process's rank and the number of ranks (0 and 1 in a single process).
  virtual int rank() const { return 0; }
  virtual int world_size() const { return 1; }
  // Sums the gradients of `params` over the ranks (a missing gradient counts as zero); a no-op in a single
  // process. Scale each rank's loss so that the sum is the combined batch's (e.g. by its share of rows).
  virtual void allreduce_gradients(const std::vector<torch::Tensor>& params) { (void)params; }

  // ---- stage reuse for custom loops (run_stage does this by itself; docs/plugins.md "Reusing stages") ----
  // When the config gives stage `spec.name` an `init_from: run:<id>/<stage>` or `cache: true` with a stored
  // entry for the weights `model` has now, loads those weights into `model` and returns the result the stage
  // had; the caller skips its training. nullopt: train the stage, then call store_stage() with its result
  // (a cache miss remembers the key of the weights at stage start). `spec.domains` (and valid_task) identify
  // the stage's data in the cache key; a stage without domains is keyed by the target task. `options`: what
  // else determines the loop's output (its own parameters, e.g. "inner_lr=0.01 steps=5"), part of the key.
  virtual std::optional<TrainResult> reuse_stage(torch::nn::Module& model, const StageSpec& spec,
                                                 const std::string& options = "") {
    (void)model;
    (void)spec;
    (void)options;
    return std::nullopt;
  }
  // After a custom stage trained following a nullopt from reuse_stage: keeps the trained weights in the stage
  // cache when the stage has `cache: true` (a no-op otherwise), and writes <stage>-best.pt like run_stage.
  virtual void store_stage(torch::nn::Module& model, const StageSpec& spec, const TrainResult& result) {
    (void)model;
    (void)spec;
    (void)result;
  }

  // ---- user cold start (MPP, MeLU): pointwise models over the target domain, options from `cold_start:` ----
  // The target's users split into warm and cold, each with support and query pairs (built on first call with
  // the run's seed, then the same object).
  virtual const ColdStartTask& cold_start_task() = 0;
  // What a pointwise model over the target is bound to (PointwiseModel::bind): users, items, side fields.
  virtual PointwiseFields pointwise_fields() const = 0;
  // A fresh pointwise model from the config's `pointwise_model:` section, bound to pointwise_fields() and on
  // the run's device.
  virtual std::shared_ptr<PointwiseModel> make_pointwise_model() = 0;
  // The support or query pairs of these target users with their features, on the run's device.
  virtual PointwiseBatch pointwise_batch(const std::vector<const UserTask*>& users, UserPart part) = 0;
  // auc, gauc (grouped by user) and logloss of `model` under fast weights `w` on the users' support or query
  // pairs, recorded under `stage` and `split` (e.g. "meta", "cold_query"). A strategy that adapts per user
  // computes the probabilities itself and calls pointwise_metrics() + log_metric().
  virtual MetricMap evaluate_pointwise(PointwiseModel& model, const std::vector<UserTask>& users, UserPart part,
                                       const std::string& stage, const std::string& split,
                                       const FastWeights& w = FastWeights()) = 0;
};

class Transfer {
 public:
  virtual ~Transfer() = default;
  virtual TransferResult run(TransferContext& ctx) = 0;
  // Whether and how it runs data-parallel (see DataParallel). The default suits a strategy that trains
  // through run_stage / train only; a custom loop declares none, or own when it shards its batches itself.
  virtual DataParallel data_parallel() const { return DataParallel::engine; }
};

}  // namespace xrec
