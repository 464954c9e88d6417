// xrec_bench_meta: the cost of one meta-iteration of maml/metarec (plugins/transfer/common/meta_learning.hpp)
// against the plain training steps it contains. A meta-iteration with K sources and T inner steps runs K x T
// support forward/backward passes and K query forward/backward passes, so it is compared with K x (T + 1)
// plain steps (forward, backward, AdamW step) on batches of the same size, on a SASRec HostSequenceModel
// with K + 1 domains. Random item ids: the cost does not depend on what the batches hold.
#include <torch/torch.h>

#include <iostream>

#include "../../plugins/transfer/common/meta_learning.hpp"
#include "bench_args.hpp"
#include "sasrec_bench_common.hpp"

using namespace xrec;
using namespace xrec::bench;

namespace {
const char* kUsage =
    "usage: xrec_bench_meta [--sources K] [--inner-steps T] [--items N] [--batch B] [--max-len L] [--hidden D]\n"
    "                       [--layers N] [--repeat R] [--threads N] [--plugins DIR]\n";

}  // namespace

int main(int argc, char** argv) try {
  int64_t K = 3, T = 3, items = 2000, B = 64, L = 50, hidden = 64, layers = 2, repeat = 10, threads = 1;
  std::string plugins;
  Args a("xrec_bench_meta", kUsage, argc, argv);
  while (a.next()) {
    if (a.is("--sources")) K = a.integer(1);
    else if (a.is("--inner-steps")) T = a.integer(1);
    else if (a.is("--items")) items = a.integer(2);
    else if (a.is("--batch")) B = a.integer(1);
    else if (a.is("--max-len")) L = a.integer(2);
    else if (a.is("--hidden")) hidden = a.integer(2);
    else if (a.is("--layers")) layers = a.integer(1);
    else if (a.is("--repeat")) repeat = a.integer(1);
    else if (a.is("--threads")) threads = a.integer(1);
    else if (a.is("--plugins")) plugins = a.value();
    else a.unknown();
  }
  torch::set_num_threads(static_cast<int>(threads));
  auto log = quiet_logger();
  Registry registry;
  load_plugins(registry, plugins, log);
  ModelOptions mo;
  mo.hidden = hidden;
  mo.layers = layers;
  mo.max_len = L;
  torch::manual_seed(0);
  auto model = make_sasrec(registry, std::vector<int64_t>(static_cast<size_t>(K + 1), items), mo, log);
  model->train();
  std::vector<Batch> support, query;
  for (int64_t k = 0; k < K * T; ++k) support.push_back(random_batch(items, B, L));
  for (int64_t k = 0; k < K; ++k) query.push_back(random_batch(items, B, L));

  // Plain steps: the same K x (T + 1) batches, each forward + backward + AdamW step on its domain.
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  auto plain = [&] {
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t t = 0; t < T; ++t) {
        opt.zero_grad();
        model->loss(k + 1, support[k * T + t]).backward();
        opt.step();
      }
      opt.zero_grad();
      model->loss(0, query[k]).backward();
      opt.step();
    }
  };
  auto meta = [&](meta::MetaLearner& l) {
    std::vector<meta::SourceTask> tasks;
    for (int64_t k = 0; k < K; ++k)
      tasks.push_back({k + 1, std::vector<Batch>(support.begin() + k * T, support.begin() + (k + 1) * T)});
    l.step(tasks, 0, query[0]);  // one target batch per iteration, as the plugins do
  };
  auto time_it = [&](const std::function<void()>& f) {
    f();  // warm-up
    std::vector<double> t;
    for (int64_t r = 0; r < repeat; ++r) {
      auto t0 = Clock::now();
      f();
      t.push_back(seconds_since(t0));
    }
    return median(t);
  };
  const double plain_s = time_it(plain);
  meta::MetaOptions fo;
  fo.inner_steps = T;
  fo.first_order = true;
  meta::MetaOptions so = fo;
  so.first_order = false;
  meta::MetaLearner lf(*model, fo), ls(*model, so);
  const double first_s = time_it([&] { meta(lf); });
  const double second_s = time_it([&] { meta(ls); });
  Json j;
  j.num("sources", K).num("inner_steps", T).num("items", items).num("batch", B).num("max_len", L);
  j.num("hidden", hidden).num("layers", layers).num("threads", threads).num("repeat", repeat);
  j.num("plain_steps", K * (T + 1)).num("plain_s", plain_s).num("first_order_s", first_s);
  j.num("second_order_s", second_s).num("first_order_ratio", first_s / plain_s);
  j.num("second_order_ratio", second_s / plain_s).num("load_average", load_average());
  std::cout << j.text() << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "xrec_bench_meta: " << e.what() << "\n";
  return 1;
}
