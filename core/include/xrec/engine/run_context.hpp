#pragma once
// The services a transfer strategy uses (TransferContext), bound to one
// recorded run: everything it trains, evaluates and logs goes to this run's
// store rows and folder.
#include <map>
#include <memory>
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
  std::unique_ptr<ColdStartTask> cold_start_;  // built on first use
};

}  // namespace xrec::engine
