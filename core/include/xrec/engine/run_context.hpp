#pragma once
// The services a transfer strategy uses (TransferContext), bound to one
// recorded run: everything it trains, evaluates and logs goes to this run's
// store rows and folder.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xrec/api/transfer.hpp"
#include "xrec/config.hpp"
#include "xrec/engine/batching.hpp"
#include "xrec/engine/evaluator.hpp"
#include "xrec/engine/trainer.hpp"
#include "xrec/registry.hpp"
#include "xrec/store.hpp"

namespace xrec::engine {

class RunContext : public TransferContext {
 public:
  RunContext(const Registry& registry, const ResolvedConfig& config, Store& store, int64_t run, PluginContext plugin,
             torch::Device device, std::vector<Task> tasks);

  const Task& target() const override;
  const std::vector<Task>& sources() const override;
  const PluginContext& plugin() const override;

  std::shared_ptr<SequenceModel> make_model(const std::vector<const Task*>& domains) override;

  TrainResult run_stage(SequenceModel& model, const StageSpec& spec) override;

  TrainResult train(SequenceModel& model, int64_t domain, const Task& task, const std::string& stage) override;

  MetricMap evaluate(SequenceModel& model, int64_t domain, const Task& task, Split split, const std::string& stage,
                     const FastWeights& w = FastWeights()) override;

  MetricMap validate(SequenceModel& model, int64_t domain, const Task& task,
                     const FastWeights& w = FastWeights()) override;

  std::string save_checkpoint(SequenceModel& model, const std::string& stage) override;

  void load_checkpoint(SequenceModel& model, const std::string& path) override;

  // The options run_stage trains `spec` with: config `train:` + `stages.<name>` over the spec's values
  // (a config value that differs from the schema default wins; otherwise the spec's value, if set).
  TrainOptions stage_options(const StageSpec& spec) const;

  // Records a reported evaluation: its metrics, and the rank of every case when eval.save_ranks is on.
  MetricMap report(const std::vector<EvalCase>& cases, const std::vector<Ranking>& ranks, const std::string& stage,
                   const std::string& split);

  Batch sample_batch(const Task& task, int64_t batch_size) override;

  void log_metric(const std::string& stage, const std::string& split, const std::string& key, double value,
                  int64_t step) override;

  void check_interrupted() const override;

  int rank() const override;
  int world_size() const override;
  void allreduce_gradients(const std::vector<torch::Tensor>& params) override;
  // What the method declared (Transfer::data_parallel): under data parallelism, custom-loop calls
  // (sample_batch, pointwise_batch) are allowed only for DataParallel::own.
  void set_data_parallel(DataParallel mode) { data_parallel_ = mode; }

  // `xrec run --resume`: stages this run completed load their <stage>-best checkpoint, the stage it was
  // interrupted in continues from <stage>-last.pt.
  void set_resume(bool on) { resuming_ = on; }

  std::optional<TrainResult> reuse_stage(torch::nn::Module& model, const StageSpec& spec,
                                         const std::string& options = "") override;
  void store_stage(torch::nn::Module& model, const StageSpec& spec, const TrainResult& result) override;
  // The stage-cache key of `spec` for the weights `model` has now (sha256 hex; see stage_cache.hpp and
  // docs/adr/0009-stage-reuse-and-resume.md for what it covers).
  std::string stage_cache_key(torch::nn::Module& model, const StageSpec& spec, const std::string& options = "");
  // The part of that key the weights cannot show: the model's and the stage data's config and plugins.
  std::string model_identity(const StageSpec& spec) const;

  EvalOptions eval_options(int64_t max_len) const;

  const ColdStartTask& cold_start_task() override;
  std::shared_ptr<PointwiseModel> make_pointwise_model() override;
  PointwiseFields pointwise_fields() const override;
  PointwiseBatch pointwise_batch(const std::vector<const UserTask*>& users, UserPart part) override;
  MetricMap evaluate_pointwise(PointwiseModel& model, const std::vector<UserTask>& users, UserPart part,
                               const std::string& stage, const std::string& split,
                               const FastWeights& w = FastWeights()) override;

 private:
  PluginContext component_context(const std::string& name) const;

  ScoreFn model_scores(SequenceModel& model, int64_t domain, const FastWeights& w);

  MetricMap score_cases(SequenceModel& model, int64_t domain, const std::vector<EvalCase>& cases,
                        const FastWeights& w);

  // One batcher per task identity (role, name and a fingerprint of its training sequences), created on first
  // use with its own random stream derived from (run seed, role, name): streams do not depend on the order
  // tasks are first used, and a task the strategy built itself is copied, so it cannot dangle.
  // Batch shapes follow the backbone of the models made here.
  TrainBatches& batches(const Task& task);
  // The batches of `task` under a stage's own batch options (stages.<name>.batch_size / samples / loss):
  // the run-wide batcher when they are the run's, else one of their own (same seed).
  TrainBatches& batches(const Task& task, const BatchOptions& options);
  std::string batcher_key(const Task& task, const BatchOptions& options) const;
  BatchOptions batch_options(const Params& stage) const;
  // The batcher keys of a stage's domains (its training tasks), for the cache key and entry.
  std::vector<std::string> stage_batchers(const StageSpec& spec, const BatchOptions& options);
  std::optional<TrainResult> reuse(torch::nn::Module& model, const StageSpec& spec, const BatchOptions& options,
                                   const std::string& extra = "");
  void keep(torch::nn::Module& model, const StageSpec& spec, const TrainResult& result, const BatchOptions& options);
  // <stage>-best.pt (+ .meta with the stage's result and random streams when `result` is given).
  std::string write_checkpoint(torch::nn::Module& model, const std::string& stage, const TrainResult* result = nullptr,
                               const std::map<std::string, std::string>& states = {});
  std::map<std::string, std::string> batcher_states(const std::vector<std::string>& keys) const;
  void restore_batchers(const std::map<std::string, std::string>& states);
  bool stage_checkpoint_on(const StageSpec& spec) const;
  std::string stage_loss(const StageSpec& spec) const;            // config over spec, like stage_options
  BatchOptions stage_batch_options(const StageSpec& spec) const;  // the stage's batches, negatives by its loss

  struct Batcher {
    std::unique_ptr<Task> copy;  // a task the context does not own (per-user, few-shot), kept alive here
    std::unique_ptr<TrainBatches> batches;
  };

  const Registry& registry_;
  const ResolvedConfig& config_;
  Store& store_;
  int64_t run_;
  PluginContext plugin_;
  torch::Device device_;
  Task target_;
  std::vector<Task> sources_;
  const Params& train_;
  const Params& eval_;
  std::map<std::string, Batcher> batchers_;
  int64_t max_len_ = 0;
  DataParallel data_parallel_ = DataParallel::engine;
  std::unique_ptr<ColdStartTask> cold_start_;  // built on first use
  bool resuming_ = false;
  int64_t epochs_done_ = 0;     // epochs finished in this process (for XREC_INTERRUPT_AFTER_EPOCHS)
  int64_t interrupt_after_ = 0;  // testing aid: stop as if interrupted after this many epochs; 0 = never
  std::map<std::string, std::string> pending_cache_;  // stage -> cache key of a miss, until keep() stores it
};

}  // namespace xrec::engine
