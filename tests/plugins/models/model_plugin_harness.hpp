#pragma once
// Builds backbone plugins from the build's plugin folder as the host would (the component's defaults,
// overridden by values checked against its ParamSpecs), and the behavioural checks every backbone must pass:
// left padding changes nothing, causal or bidirectional attention, every parameter read through FastWeights.
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xrec/api/backbone.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/engine/sequence_model.hpp"
#include "xrec/registry.hpp"
#include "../dataset_harness.hpp"  // plugin_registry(), expect_input_error()

namespace xrec::test::models {

using xrec::test::expect_input_error;
using xrec::test::plugin_registry;

// Params of component (kind, type): defaults, then `values`, each checked against its spec as config does.
inline Params component_params(Kind kind, const std::string& type, const std::map<std::string, Value>& values) {
  const Component& c = plugin_registry().get(kind, type);
  Params p = Params::defaults(c.params, std::string(to_string(kind)) + " (" + type + ")");
  for (auto& [k, v] : values) {
    auto spec = std::find_if(c.params.begin(), c.params.end(), [&](const ParamSpec& s) { return s.name == k; });
    if (spec == c.params.end()) throw Error("test asked for unknown param '" + k + "' of " + type);
    if (std::string why = spec->check(v); !why.empty()) throw Error("test value for '" + k + "': expected " + why);
    p.set(k, v);
  }
  return p;
}

// A backbone built with a fixed seed, in eval mode (no dropout) unless the test switches it.
inline std::shared_ptr<Backbone> make_backbone(const std::string& type, const std::map<std::string, Value>& values = {},
                                               uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto b = plugin_registry().get(Kind::Backbone, type).backbone(component_params(Kind::Backbone, type, values),
                                                               PluginContext());
  b->eval();
  return b;
}

inline std::vector<std::string> parameter_names(const torch::nn::Module& m) {
  std::vector<std::string> names;
  for (auto& p : m.named_parameters()) names.push_back(p.key());
  return names;
}

inline bool close(const torch::Tensor& a, const torch::Tensor& b) { return torch::allclose(a, b, 1e-5, 1e-5); }
inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// `real` [n, D] right-aligned in a row of length n + pad, as [1, L, D] items and [1, L] padding. The padding
// vectors are random, not zero: a backbone must ignore them, whatever they hold.
inline std::pair<torch::Tensor, torch::Tensor> left_padded(const torch::Tensor& real, int64_t pad) {
  auto items = torch::cat({torch::randn({pad, real.size(1)}) * 3, real}).unsqueeze(0);
  return {items, torch::arange(pad + real.size(0)).lt(pad).unsqueeze(0)};
}

// A next-item (causal) backbone: no Cloze parts.
inline void expect_next_item_backbone(Backbone& b) {
  EXPECT_EQ(b.objective(), Objective::NextItem);
  EXPECT_EQ(b.mask_prob(), 0.0);
  EXPECT_THROW(b.mask_vector(), Error);
}

// A Transformer backbone `type` refuses heads that do not divide hidden (InputError naming both) and sequences
// longer than max_len.
inline void expect_transformer_checks(const std::string& type) {
  expect_input_error([&] { make_backbone(type, {{"hidden", 10}, {"heads", 3}}); },
                     {type, "hidden (10)", "divisible by heads (3)"});
  auto b = make_backbone(type, {{"hidden", 16}, {"max_len", 10}});
  EXPECT_THROW(b->forward(torch::randn({1, 11, 16}), torch::zeros({1, 11}, torch::kBool)), Error);
  EXPECT_NO_THROW(b->forward(torch::randn({1, 10, 16}), torch::zeros({1, 10}, torch::kBool)));
}

inline void expect_shape(Backbone& b, int64_t B = 3, int64_t L = 7) {
  auto padding = torch::zeros({B, L}, torch::kBool);
  padding.slice(1, 0, 2).select(0, 1).fill_(true);
  auto out = b.forward(torch::randn({B, L, b.hidden_size()}), padding);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{B, L, b.hidden_size()}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
}

// The same sequence with more left padding, alone or next to a longer row in a batch, gives the same states
// at its real positions.
inline void expect_left_padding_invariant(Backbone& b, int64_t n = 4) {
  ASSERT_GE(b.max_len(), n + 3);
  torch::NoGradGuard no_grad;
  auto real = torch::randn({n, b.hidden_size()});
  auto [items0, pad0] = left_padded(real, 0);
  const auto base = b.forward(items0, pad0)[0];
  for (int64_t pad : {int64_t{1}, int64_t{3}, b.max_len() - n}) {
    auto [items, padding] = left_padded(real, pad);
    auto states = b.forward(items, padding)[0].slice(0, pad);
    EXPECT_TRUE(close(states, base)) << "left padding " << pad << " changed the states by " << max_diff(states, base);
  }
  // In a batch with a full-length row of other items.
  auto [items, padding] = left_padded(real, 3);
  auto batch_items = torch::cat({items, torch::randn_like(items)});
  auto batch_padding = torch::cat({padding, torch::zeros_like(padding)});
  auto states = b.forward(batch_items, batch_padding)[0].slice(0, 3);
  EXPECT_TRUE(close(states, base)) << "another row of the batch changed the states by " << max_diff(states, base);
}

// Changes the item at position `at` of a 6-item row; returns the states before and after, [L, D] each.
inline std::pair<torch::Tensor, torch::Tensor> states_before_after_change(Backbone& b, int64_t at) {
  torch::NoGradGuard no_grad;
  auto items = torch::randn({1, 6, b.hidden_size()});
  auto padding = torch::zeros({1, 6}, torch::kBool);
  auto before = b.forward(items, padding)[0];
  items[0][at] = torch::randn({b.hidden_size()});
  return {before, b.forward(items, padding)[0]};
}

// State t depends on items 0..t only: changing item 4 leaves states 0..3 as they were and moves states 4, 5.
inline void expect_causal(Backbone& b) {
  auto [before, after] = states_before_after_change(b, 4);
  EXPECT_TRUE(close(before.slice(0, 0, 4), after.slice(0, 0, 4))) << "an earlier state saw a later item";
  for (int64_t t : {4, 5}) EXPECT_GT(max_diff(before[t], after[t]), 1e-4) << "state " << t << " ignored item 4";
}

// Every state sees the whole sequence: changing the last item moves every state.
inline void expect_bidirectional(Backbone& b) {
  auto [before, after] = states_before_after_change(b, 5);
  for (int64_t t = 0; t < 6; ++t) EXPECT_GT(max_diff(before[t], after[t]), 1e-4) << "state " << t << " ignored item 5";
}

// Substituting any parameter (but those in `unused`) through FastWeights changes the output, and the gradient
// reaches the substitute, not the parameter: the backbone reads every parameter through w. Attention key biases
// (`*_k_bias`) are read but cannot change anything (they shift all scores of a query alike, softmax ignores
// that), so for them only the gradient's path is checked.
inline void expect_fast_weights_honoured(Backbone& b, const std::vector<std::string>& unused = {}) {
  auto items = torch::randn({2, 5, b.hidden_size()});
  auto padding = torch::zeros({2, 5}, torch::kBool);
  padding[1][0] = true;
  auto base = b.forward(items, padding).detach();
  auto probe = torch::randn_like(base);  // a random projection: a plain sum can hide gradients behind LayerNorm
  int checked = 0;
  for (auto& item : b.named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& param = item.value();
    if (std::find(unused.begin(), unused.end(), name) != unused.end()) continue;
    const bool no_effect = name.size() > 7 && name.compare(name.size() - 7, 7, "_k_bias") == 0;
    auto substitute = (param.detach() + 0.5 * torch::randn_like(param)).requires_grad_();
    FastWeights w;
    w.set(param, substitute);
    b.zero_grad(/*set_to_none=*/true);
    auto out = b.forward(items, padding, w);
    if (!no_effect) {
      EXPECT_GT(max_diff(out.detach(), base), 1e-6) << name << ": substituting it changed nothing";
    }
    (out * probe).sum().backward();
    EXPECT_TRUE(substitute.grad().defined()) << name << ": the substitute is not in the graph";
    if (!no_effect && substitute.grad().defined()) {
      EXPECT_GT(substitute.grad().abs().sum().item<double>(), 0) << name << ": no gradient reached the substitute";
    }
    EXPECT_FALSE(param.grad().defined() && param.grad().abs().sum().item<double>() > 0)
        << name << ": read directly, not through FastWeights";
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(b.parameters().size() - unused.size()));
}

// Dropout acts in training only: two training passes differ, two eval passes agree.
inline void expect_dropout_only_in_training(Backbone& b) {
  torch::NoGradGuard no_grad;
  auto items = torch::randn({2, 5, b.hidden_size()});
  auto padding = torch::zeros({2, 5}, torch::kBool);
  b.train();
  EXPECT_GT(max_diff(b.forward(items, padding), b.forward(items, padding)), 1e-6);
  b.eval();
  EXPECT_TRUE(torch::equal(b.forward(items, padding), b.forward(items, padding)));
}

// forward_last is forward's last column, with fast weights too, on a batch of rows of different lengths.
inline void expect_forward_last_is_the_last_column(Backbone& b) {
  torch::NoGradGuard no_grad;
  const int64_t L = std::min<int64_t>(b.max_len(), 7);
  auto items = torch::randn({4, L, b.hidden_size()});
  auto padding = torch::zeros({4, L}, torch::kBool);
  for (int64_t r = 0; r < 4; ++r) padding[r].slice(0, 0, std::min(r * 2, L - 1)).fill_(true);
  auto full = b.forward(items, padding).select(1, L - 1);
  auto last = b.forward_last(items, padding);
  EXPECT_EQ(last.sizes(), full.sizes());
  EXPECT_TRUE(close(last, full)) << "forward_last differs from forward's last column by " << max_diff(last, full);
  FastWeights w;
  for (auto& p : b.parameters()) w.set(p, p * 1.1);
  auto full_w = b.forward(items, padding, w).select(1, L - 1), last_w = b.forward_last(items, padding, w);
  EXPECT_TRUE(close(last_w, full_w)) << "with fast weights, by " << max_diff(last_w, full_w);
}

// HostSequenceModel's loss with length groups on and off: the same loss and the same gradient of every
// parameter (eval mode: no dropout; a Cloze backbone draws the same masks from the same seed).
inline void expect_length_groups_change_nothing(const std::string& type, const std::map<std::string, Value>& values,
                                                engine::LossKind loss = engine::LossKind::CrossEntropy) {
  auto backbone = make_backbone(type, values, 3);
  engine::HostSequenceModel model({20}, backbone, nullptr, loss);
  model.eval();
  const int64_t L = std::min<int64_t>(backbone->max_len(), 8);
  // Rows of lengths 1, 2, 2, 5 and L: several groups.
  const std::vector<int64_t> lengths = {1, 2, 2, 5, L};
  Batch batch;
  const int64_t B = static_cast<int64_t>(lengths.size());
  batch.inputs = torch::zeros({B, L}, torch::kLong);
  batch.targets = torch::zeros({B, L}, torch::kLong);
  for (int64_t r = 0; r < B; ++r)
    for (int64_t k = L - lengths[static_cast<size_t>(r)]; k < L; ++k) {
      batch.inputs[r][k] = 1 + (r * 7 + k * 3) % 20;
      batch.targets[r][k] = 1 + (r * 5 + k * 11) % 20;
    }
  if (loss == engine::LossKind::BinaryCrossEntropy) batch.negatives = torch::randint(1, 21, {B, L, 2}, torch::kLong);
  auto run = [&](bool groups) {
    model.set_length_groups(groups, /*group_cost=*/0);  // cost 0: one group per distinct length
    model.zero_grad(/*set_to_none=*/true);
    torch::manual_seed(11);
    auto l = model.loss(0, batch);
    l.backward();
    std::vector<torch::Tensor> out{l.detach()};
    for (auto& p : model.parameters()) out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return out;
  };
  const auto off = run(false), on = run(true);
  EXPECT_TRUE(close(on[0], off[0])) << type << ": loss " << on[0].item<double>() << " vs " << off[0].item<double>();
  const auto names = parameter_names(model);
  for (size_t i = 1; i < off.size(); ++i)
    EXPECT_TRUE(torch::allclose(on[i], off[i], 1e-4, 1e-5))
        << type << ": gradient of " << names[i - 1] << " differs by " << max_diff(on[i], off[i]);
}

}  // namespace xrec::test::models
