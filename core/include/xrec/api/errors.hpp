#pragma once
// Errors that cross the host/plugin boundary. Every message says what went wrong, where, and what was
// expected; the command line prints it and exits non-zero.
#include <stdexcept>
#include <string>

#include "xrec/api/export.hpp"

namespace xrec {

class XREC_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad user input: a config key, a malformed data file, a missing path.
class XREC_API InputError : public Error {
 public:
  using Error::Error;
};

// The run was stopped by the user (Ctrl-C / SIGTERM); recorded as status 'interrupted'.
class XREC_API Interrupted : public Error {
 public:
  using Error::Error;
};

}  // namespace xrec
