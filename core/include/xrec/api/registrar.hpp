#pragma once
// The narrow interface through which a plugin registers its components. It never exposes host
// internals; factories receive validated Params and the PluginContext.
#include <functional>
#include <memory>
#include <string>

#include "xrec/api/context.hpp"
#include "xrec/api/params.hpp"

namespace xrec {

class Dataset;
class Backbone;
class Quantizer;
class Transfer;
class Baseline;

enum class Kind { Dataset, Backbone, Quantizer, Transfer, Baseline };
XREC_API const char* to_string(Kind k);

template <class T>
using Factory = std::function<std::shared_ptr<T>(const Params&, const PluginContext&)>;

class Registrar {
 public:
  virtual ~Registrar() = default;
  virtual void add_dataset(const std::string& name, const std::string& doc, ParamSpecs params,
                           Factory<Dataset> factory) = 0;
  virtual void add_backbone(const std::string& name, const std::string& doc, ParamSpecs params,
                            Factory<Backbone> factory) = 0;
  virtual void add_quantizer(const std::string& name, const std::string& doc, ParamSpecs params,
                             Factory<Quantizer> factory) = 0;
  virtual void add_transfer(const std::string& name, const std::string& doc, ParamSpecs params,
                            Factory<Transfer> factory) = 0;
  virtual void add_baseline(const std::string& name, const std::string& doc, ParamSpecs params,
                            Factory<Baseline> factory) = 0;
};

}  // namespace xrec
