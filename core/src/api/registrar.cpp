#include "xrec/api/registrar.hpp"

namespace xrec {

const char* to_string(Kind k) {
  switch (k) {
    case Kind::Dataset: return "dataset";
    case Kind::Backbone: return "backbone";
    case Kind::Quantizer: return "quantizer";
    case Kind::Transfer: return "transfer";
    case Kind::Baseline: return "baseline";
  }
  return "?";
}

}  // namespace xrec
