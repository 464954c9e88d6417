// xrec_bench_quantizer: forward + backward time of one SASRec training step with a quantizer (vq, rvq, pq)
// against the same step without one, as a ratio (docs/performance.md). The host quantizes each domain's whole
// item table every step, so the extra cost grows with items x codewords x width, not with the batch. Random
// item ids: the cost does not depend on what the batches hold.
#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <utility>
#include <vector>

#include "bench_args.hpp"
#include "sasrec_bench_common.hpp"

using namespace xrec;
using namespace xrec::bench;

namespace {
const char* kUsage =
    "usage: xrec_bench_quantizer [--items N] [--batch B] [--max-len L] [--hidden D] [--layers N] [--codebook K]\n"
    "                            [--levels N] [--subspaces M] [--repeat R] [--threads N] [--plugins DIR]\n";
}  // namespace

int main(int argc, char** argv) try {
  int64_t items = 12000, B = 128, L = 50, hidden = 64, layers = 2, K = 256, levels = 2, M = 4, repeat = 20,
          threads = 1;
  std::string plugins;
  Args a("xrec_bench_quantizer", kUsage, argc, argv);
  while (a.next()) {
    if (a.is("--items")) items = a.integer(2);
    else if (a.is("--batch")) B = a.integer(1);
    else if (a.is("--max-len")) L = a.integer(2);
    else if (a.is("--hidden")) hidden = a.integer(2);
    else if (a.is("--layers")) layers = a.integer(1);
    else if (a.is("--codebook")) K = a.integer(2);
    else if (a.is("--levels")) levels = a.integer(1);
    else if (a.is("--subspaces")) M = a.integer(1);
    else if (a.is("--repeat")) repeat = a.integer(1);
    else if (a.is("--threads")) threads = a.integer(1);
    else if (a.is("--plugins")) plugins = a.value();
    else a.unknown();
  }
  torch::set_num_threads(static_cast<int>(threads));
  auto log = quiet_logger();
  Registry registry;
  load_plugins(registry, plugins, log);
  PluginContext ctx;
  ctx.log = log;
  ModelOptions mo;
  mo.hidden = hidden;
  mo.layers = layers;
  mo.max_len = L;
  const Batch batch = random_batch(items, B, L);

  // Median seconds of one zero_grad + forward (loss) + backward, after a warm-up step.
  auto step_seconds = [&](const std::string& quantizer) {
    std::shared_ptr<Quantizer> q;
    if (!quantizer.empty()) {
      const Component& qc = registry.get(Kind::Quantizer, quantizer);
      Params qp = Params::defaults(qc.params, "quantizer (" + quantizer + ")");
      qp.set("codebook_size", K);
      if (quantizer == "rvq") qp.set("levels", levels);
      if (quantizer == "pq") qp.set("subspaces", M);
      q = qc.quantizer(qp, ctx);
    }
    torch::manual_seed(0);
    auto model = make_sasrec(registry, {items}, mo, log, q);
    model->train();
    auto step = [&] {
      for (auto& p : model->parameters())
        if (p.grad().defined()) p.mutable_grad().zero_();
      model->loss(0, batch).backward();
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
  // Plain measured before and after the quantizers, the faster of the two as the base: the first model built
  // in the process pays allocator and thread-pool warm-up that its own warm-up step does not cover.
  const double plain_before = step_seconds("");
  std::vector<std::pair<std::string, double>> with;
  for (const char* name : {"vq", "rvq", "pq"}) with.emplace_back(name, step_seconds(name));
  const double plain_after = step_seconds("");
  const double plain = std::min(plain_before, plain_after);
  Json j;
  j.num("items", items).num("batch", B).num("max_len", L).num("hidden", hidden).num("layers", layers);
  j.num("codebook", K).num("levels", levels).num("subspaces", M).num("threads", threads).num("repeat", repeat);
  j.num("plain_before_s", plain_before).num("plain_after_s", plain_after);
  for (const auto& [name, s] : with) j.num(name + "_s", s).num(name + "_ratio", s / plain);
  j.num("load_average", load_average());
  std::cout << j.text() << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "xrec_bench_quantizer: " << e.what() << "\n";
  return 1;
}
