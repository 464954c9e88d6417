// Transfer plugin: MetaRec's meta transfer (methods.md section 1). As maml, but every source's meta gradient
// g_k is rescaled by its similarity to the target, s_k = mean over parameter tensors of cos(theta - phi_k, g_k)
// (sign a parameter), with weights softmax(s / tau). Weights and similarities are recorded per iteration.
#include "../common/meta_transfer.hpp"
#include "xrec/api/plugin.hpp"

XREC_PLUGIN("metarec", "1.0.0", "MetaRec meta transfer: similarity-rescaled meta gradients from disjoint source domains") {
  using namespace xrec;
  ParamSpecs specs = meta::common_params(200);
  specs.push_back(param::string("weights", "softmax",
                                "How sources' meta gradients are combined: softmax of similarity / tau, or "
                                "uniform (the average, = tau -> inf, as maml)")
                      .one_of({"softmax", "uniform"}));
  specs.push_back(param::real("tau", 0.1, "Temperature of the softmax over similarities (config refuses inf: use "
                                          "weights: uniform)")
                      .above(0));
  specs.push_back(param::string("sign", "theta_minus_phi",
                                "Similarity direction: cos(theta - phi_k, g_k) (theta_minus_phi) or MetaAdapt's "
                                "cos(phi_k - theta, g_k) (phi_minus_theta)")
                      .one_of({"theta_minus_phi", "phi_minus_theta"}));
  registrar.add_transfer(
      "metarec",
      "MetaRec: per-domain item tables -> shared codebook (when a quantizer is configured) -> shared encoder, "
      "meta-trained with the sources as tasks and the target as the query; each source's meta gradient is "
      "weighted by softmax(similarity / tau); keeps the best target validation, then fine-tunes on the target.",
      specs, [](const Params& p, const PluginContext&) {
        return std::make_shared<meta::MetaTransfer>(p, /*rescaled=*/true);
      });
}
