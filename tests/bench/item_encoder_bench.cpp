// xrec_bench_item_encoder: one training-mode forward over all items + backward of the `ant` item encoder with
// `sparse_inputs: never` (dense matrix products) against `always` (embedding bags over the nonzeros), on one
// synthetic domain shaped like Amazon Beauty's multi-hot attributes (docs/performance.md). Full-softmax
// training encodes every item each step, so this is the encoder's share of every training step. Before
// timing, both paths must give the same vectors in eval mode with the same parameters (exit 1 if not).
#include <torch/torch.h>

#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_args.hpp"
#include "sasrec_bench_common.hpp"
#include "xrec/api/item_encoder.hpp"

using namespace xrec;
using namespace xrec::bench;

namespace {
const char* kUsage =
    "usage: xrec_bench_item_encoder [--items N] [--columns C] [--nonzeros K] [--dim D] [--experts E]\n"
    "                               [--repeat R] [--threads N] [--plugins DIR]\n";

// Plugins of the build (or --plugins DIR); throws when the ant item encoder is missing.
void load_ant(Registry& registry, const std::string& dir, const std::shared_ptr<spdlog::logger>& log) {
  PluginLoader loader(registry);
  loader.load_dirs(dir.empty() ? default_plugin_dirs() : std::vector<std::string>{dir});
  for (auto& p : loader.problems()) log->warn("skipped plugin {}: {}", p.path, p.message);
  if (!registry.find(Kind::ItemEncoder, "ant"))
    throw Error(std::string("bench: item encoder 'ant' not found in ") +
                (dir.empty() ? "the default plugin folders" : dir) +
                " (build it: cmake --build <build> --target ant, or pass --plugins DIR)");
}

// Beauty-like attributes: items 1..N have `nonzeros` distinct random columns set to 1; row 0 (padding) is zero.
DomainData attribute_domain(int64_t items, int64_t columns, int64_t nonzeros) {
  DomainData d;
  d.name = "synthetic";
  d.num_items = items;
  std::vector<float> values(static_cast<size_t>((items + 1) * columns), 0.f);
  std::mt19937_64 rng(0);
  std::vector<int64_t> cols(static_cast<size_t>(columns));
  for (int64_t c = 0; c < columns; ++c) cols[static_cast<size_t>(c)] = c;
  for (int64_t r = 1; r <= items; ++r)
    for (int64_t k = 0; k < nonzeros; ++k) {  // partial Fisher-Yates: the first `nonzeros` of a shuffle
      std::uniform_int_distribution<int64_t> pick(k, columns - 1);
      std::swap(cols[static_cast<size_t>(k)], cols[static_cast<size_t>(pick(rng))]);
      values[static_cast<size_t>(r * columns + cols[static_cast<size_t>(k)])] = 1.f;
    }
  d.item_features = {{"attributes", columns, std::move(values)}};
  return d;
}
}  // namespace

int main(int argc, char** argv) try {
  int64_t items = 12101, columns = 638, nonzeros = 4, dim = 64, experts = 8, repeat = 20, threads = 1;
  std::string plugins;
  Args a("xrec_bench_item_encoder", kUsage, argc, argv);
  while (a.next()) {
    if (a.is("--items")) items = a.integer(1);
    else if (a.is("--columns")) columns = a.integer(1);
    else if (a.is("--nonzeros")) nonzeros = a.integer(1);
    else if (a.is("--dim")) dim = a.integer(1);
    else if (a.is("--experts")) experts = a.integer(1);
    else if (a.is("--repeat")) repeat = a.integer(1);
    else if (a.is("--threads")) threads = a.integer(1);
    else if (a.is("--plugins")) plugins = a.value();
    else a.unknown();
  }
  if (nonzeros > columns)
    a.fail("--nonzeros (" + std::to_string(nonzeros) + ") must be at most --columns (" + std::to_string(columns) + ")");
  torch::set_num_threads(static_cast<int>(threads));
  auto log = quiet_logger();
  Registry registry;
  load_ant(registry, plugins, log);
  PluginContext ctx;
  ctx.log = log;
  const DomainData data = attribute_domain(items, columns, nonzeros);

  auto make = [&](const std::string& sparse_inputs) {
    const Component& c = registry.get(Kind::ItemEncoder, "ant");
    Params p = Params::defaults(c.params, "item_encoder (ant)");
    p.set("modalities", std::vector<std::string>{"attributes"});
    p.set("whiten", std::vector<std::string>{});
    p.set("experts", experts);
    p.set("dropout", 0.2);
    p.set("noise", true);
    p.set("sparse_inputs", sparse_inputs);
    torch::manual_seed(0);
    auto enc = c.item_encoder(p, ctx);
    enc->bind({{data.name, items, &data}}, dim);
    return enc;
  };
  auto dense = make("never"), sparse = make("always");

  // Same outputs: the zero-initialised gate and bias get random values first (so the gate is not uniform and
  // the check covers it), then every dense parameter is copied into the sparse encoder.
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(1);
    for (auto& p : dense->named_parameters())
      if (p.key().find(".gate.") != std::string::npos || p.key().find(".bias") != std::string::npos)
        p.value().copy_(torch::randn_like(p.value()) * 0.1);
    auto from = dense->named_parameters();
    for (auto& p : sparse->named_parameters()) p.value().copy_(from[p.key()]);
    dense->eval();
    sparse->eval();
    auto d = dense->forward(0), s = sparse->forward(0);
    if (!torch::allclose(d, s, 1e-4, 1e-5)) {
      std::cerr << "xrec_bench_item_encoder: the sparse path's vectors differ from the dense path's (max |diff| "
                << (d - s).abs().max().item<double>() << ", rtol 1e-4, atol 1e-5)\n";
      return 1;
    }
  }

  // Median seconds of zero_grad + forward over all items + sum().backward(), in training mode, after a warm-up.
  auto step_seconds = [&](ItemEncoder& enc) {
    enc.train();
    auto step = [&] {
      for (auto& p : enc.parameters())
        if (p.grad().defined()) p.mutable_grad().zero_();
      enc.forward(0).sum().backward();
    };
    step();
    std::vector<double> t;
    for (int64_t r = 0; r < repeat; ++r) {
      auto t0 = Clock::now();
      step();
      t.push_back(seconds_since(t0));
    }
    return median(t);
  };
  const double dense_s = step_seconds(*dense);
  const double sparse_s = step_seconds(*sparse);

  std::cout << "items " << items << ", columns " << columns << ", nonzeros " << nonzeros << " per item (density "
            << fixed(100.0 * static_cast<double>(nonzeros) / static_cast<double>(columns), 2) << "%), dim " << dim
            << ", experts " << experts << ", threads " << threads << ", median of " << repeat << ", load average "
            << fixed(load_average(), 2) << "\n\n"
            << "| path | median ms | ratio to dense |\n|---|---:|---:|\n"
            << "| dense (sparse_inputs: never) | " << fixed(1e3 * dense_s, 1) << " | 1.00x |\n"
            << "| sparse (sparse_inputs: always) | " << fixed(1e3 * sparse_s, 1) << " | "
            << fixed(sparse_s / dense_s, 3) << "x |\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "xrec_bench_item_encoder: " << e.what() << "\n";
  return 1;
}
