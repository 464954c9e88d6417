#pragma once
// Dataset plugins: read files in some format and produce one domain's interactions.
#include "xrec/api/data.hpp"

namespace xrec {

class Dataset {
 public:
  virtual ~Dataset() = default;
  // Reads and returns the domain. Malformed input throws xrec::InputError naming file, line and problem.
  virtual DomainData load() = 0;
};

}  // namespace xrec
