// Transfer plugin: MAML across domains. Each source is a task: inner SGD steps on its batches give fast
// weights, the meta gradient is the target loss at those weights (second order through the inner steps, or
// first order), the sources' meta gradients are averaged (no rescaling), then fine-tuning on the target.
// The loop is shared with metarec (../common/meta_transfer.hpp).
#include "../common/meta_transfer.hpp"
#include "xrec/api/plugin.hpp"

XREC_PLUGIN("maml", "1.0.0", "MAML transfer: sources as tasks, target batches as the query, averaged meta gradients") {
  registrar.add_transfer(
      "maml",
      "Meta-trains one model (per-domain item tables, shared quantizer and encoder) with the sources as tasks and "
      "the target as the query: inner SGD steps per source, meta gradients through them (second order, or first "
      "order), averaged over the sources and applied with AdamW; keeps the best target validation, then fine-tunes "
      "on the target (stage `finetune`).",
      xrec::meta::common_params(200), [](const xrec::Params& p, const xrec::PluginContext&) {
        return std::make_shared<xrec::meta::MetaTransfer>(p, /*rescaled=*/false);
      });
}
