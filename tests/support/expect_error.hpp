#pragma once
// The one way tests check bad input: the call throws xrec::InputError and its message says what, where
// and what was expected (every given part must appear in it).
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "xrec/api/errors.hpp"

namespace xrec::test {

template <class F>
void expect_input_error(F&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    for (auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << part << " not in: " << e.what();
  }
}

}  // namespace xrec::test
