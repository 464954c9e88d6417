#pragma once
// The pieces of the cold-start strategies that need no run: the fixed/adaptive partition of a pointwise
// model's parameters, the per-user adaptation (inner loop), the meta loss (first or second order), ranking a
// user's held-out items against every item they never saw, and the per-user parameter store.
// Compiled into the `mpp` plugin and into tests/plugins/mpp/mpp_test.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/metrics.hpp"
#include "xrec/api/pointwise_model.hpp"

namespace spdlog {
class logger;
}

namespace xrec::mpp {

// `*` any run of characters, `?` one character.
bool glob_match(const std::string& pattern, const std::string& name);

// The model's parameters split by name: adaptive = matched by any pattern, fixed = the rest (model order).
struct Partition {
  std::vector<std::string> adaptive_names, fixed_names;
  std::vector<torch::Tensor> adaptive, fixed;  // the module's own tensors; `adaptive` is the initialisation
  int64_t adaptive_numel() const;
  // Bytes one user's adapted parameters take in the store (float32).
  int64_t bytes_per_user() const { return adaptive_numel() * 4; }
};
// Throws InputError when a pattern matches no parameter or nothing is adaptive.
Partition partition(const torch::nn::Module& model, const std::vector<std::string>& patterns);

// The adaptive tensors replaced by `phi` (parallel to partition.adaptive).
FastWeights fast_weights(const Partition& part, const std::vector<torch::Tensor>& phi);

// Mean binary cross-entropy of the model's logits under `w`.
torch::Tensor log_loss(PointwiseModel& model, const PointwiseBatch& batch, const FastWeights& w = FastWeights());

struct AdaptOptions {
  int64_t steps = 3;
  double lr = 0.05;
};

// A user's adaptive parameters after `steps` SGD steps on the support batch, starting from the partition's
// initialisation. graph = "none": detached result (evaluation); "first": FOMAML, the result depends on the
// initialisation by identity only; "second": differentiable through the inner gradients (create_graph).
// An empty support batch gives the initialisation and a warning on `log` (when given).
enum class Graph { None, First, Second };
std::vector<torch::Tensor> adapt(PointwiseModel& model, const Partition& part, const PointwiseBatch& support,
                                 const AdaptOptions& o, Graph graph, spdlog::logger* log = nullptr,
                                 int64_t user = -1);

// MAML meta loss: the mean over users of the query loss after adapting on the support set.
torch::Tensor meta_loss(PointwiseModel& model, const Partition& part,
                        const std::vector<const PointwiseBatch*>& supports,
                        const std::vector<const PointwiseBatch*>& queries, const AdaptOptions& o, Graph graph);

// The 0-based rank of each positive among itself and the items the user never interacted with (`seen`
// holds every item of the user, positives included). `scores` is indexed by item id (1..N; 0 unused).
// An equal-scored item with a lower id ranks ahead (a constant scorer gets an average rank).
std::vector<Ranking> rank_positives(const std::vector<float>& scores, const std::vector<int64_t>& positives,
                                    const std::vector<int64_t>& seen);

// Per-user adaptive parameters: one float32 file (users back to back) and a text index
// ("user offset count" lines after a header naming the parameters and their shapes).
class UserParamStore {
 public:
  explicit UserParamStore(const Partition& part);
  void add(int64_t user, const std::vector<torch::Tensor>& phi);
  int64_t users() const { return static_cast<int64_t>(users_.size()); }
  // Writes <stem>.bin and <stem>.index; returns the bytes of the .bin file.
  int64_t write(const std::string& stem) const;
  // One user's tensors (shapes of the partition's adaptive part) read back from <stem>.bin/.index; throws
  // InputError for an unknown user or files that do not fit.
  static std::vector<torch::Tensor> load(const std::string& stem, int64_t user);

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<int64_t> users_;
  std::vector<float> data_;
};

}  // namespace xrec::mpp
