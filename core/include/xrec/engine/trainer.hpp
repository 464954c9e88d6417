#pragma once
// The standard supervised loop: Adam, shuffled batches, validation every few epochs, early stopping on
// one validation metric, the best epoch's weights restored at the end. Test data never enters here.
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>

#include "xrec/api/model.hpp"
#include "xrec/api/transfer.hpp"
#include "xrec/engine/batching.hpp"

namespace spdlog {
class logger;
}

namespace xrec::engine {

struct TrainOptions {
  int64_t epochs = 200;
  double lr = 1e-3;
  double weight_decay = 0;
  double grad_clip = 0;  // 0 = off
  int64_t patience = 10;
  int64_t eval_every = 1;
  std::string select_metric = "ndcg@10";
};

struct TrainHooks {
  std::function<MetricMap(SequenceModel&)> validate;  // validation metrics of the current weights
  // Records one value: split is "train" (loss, seconds) or "valid"; step is the 0-based epoch.
  std::function<void(const std::string& split, const std::string& key, int64_t step, double value)> record;
  std::function<void()> check_interrupted;
  std::shared_ptr<spdlog::logger> log;
  torch::Device device = torch::kCPU;
};

TrainResult train_model(SequenceModel& model, int64_t domain, const std::string& stage, TrainBatches& batches,
                        const TrainOptions& options, const TrainHooks& hooks);

}  // namespace xrec::engine
