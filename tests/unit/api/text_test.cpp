// Tokens echoed in error messages: cut after a limit, non-printable bytes escaped, UTF-8 kept.
#include "xrec/api/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace xrec {
namespace {

TEST(Printable, KeepsPlainTextAndUtf8) {
  EXPECT_EQ(printable("item_42"), "item_42");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(quote_token("a b"), "'a b'");
  EXPECT_EQ(printable(""), "");
}

TEST(Printable, EscapesControlAndInvalidBytes) {
  EXPECT_EQ(printable(std::string("a\nb\tc\rd\0e", 9)), "a\\nb\\tc\\rd\\x00e");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
  EXPECT_EQ(printable("\xff\xfe\x7f"), "\\xff\\xfe\\x7f");
  EXPECT_EQ(printable("\xc3"), "\\xc3");          // a lead byte without its continuation
  EXPECT_EQ(printable("\xe2\x82"), "\\xe2\\x82");  // a truncated 3-byte sequence
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");  // an overlong encoding
}

TEST(Printable, CutsLongTokensAndSaysHowLong) {
  const std::string big(100'000'000, 'x');
  const std::string s = printable(big);
  EXPECT_EQ(s, std::string(kShownTokenBytes, 'x') + "... (100000000 bytes)");
  EXPECT_EQ(printable("abcdef", 3), "abc... (6 bytes)");
  EXPECT_EQ(printable("abc", 3), "abc");
  EXPECT_EQ(quote_token("abcdef", 2), "'ab... (6 bytes)'");
  // A multi-byte character cut by the limit is escaped, never emitted half.
  EXPECT_EQ(printable("a\xc3\xa9", 2), "a\\xc3... (3 bytes)");
}

}  // namespace
}  // namespace xrec
