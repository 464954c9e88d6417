#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

// ---------------------------------------------------------------------------------------------------------
// Hostile input: recursive aliases, deep nesting, non-finite floats.

// Runs `f` in a death-test child: before the depth limit a recursive alias overflowed the stack (SIGSEGV);
// now the child sees a ConfigError naming the nesting and exits 0.
void expect_nesting_error(const std::function<void()>& f) {
  EXPECT_EXIT(
      {
        try {
          f();
        } catch (const ConfigError& e) {
          std::exit(std::string(e.what()).find("nesting deeper than 64 levels") != std::string::npos ? 0 : 3);
        } catch (...) {
          std::exit(4);
        }
        std::exit(5);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(ConfigHostile, RecursiveAliasInAFileIsAConfigErrorNotACrash) {
  expect_nesting_error([] { Config::parse("x: &a [*a]\n", "alias.yaml"); });
  expect_nesting_error([] { Config::parse("backbone: &b {type: sasrec, self: *b}\n", "alias.yaml"); });
  const std::string msg = config_error([] { Config::parse("x: &a [*a]\n", "alias.yaml"); });
  EXPECT_THAT(msg, HasSubstr("alias.yaml:1:"));
  EXPECT_THAT(msg, HasSubstr("nesting deeper than 64 levels at x[0][0][0]"));
}

TEST(ConfigHostile, RecursiveAliasInAnIncludedFileOrAnOverride) {
  const fs::path dir =
      write_files("alias", {{"bad.yaml", "name: n\ny: &a {z: *a}\n"}, {"top.yaml", "defaults: [bad.yaml]\n"}});
  const std::string top = (dir / "top.yaml").string();
  expect_nesting_error([&] { Config::load(top); });
  EXPECT_THAT(config_error([&] { Config::load(top); }),
              HasSubstr((dir / "bad.yaml").string() + ":2:8: nesting deeper than 64 levels at y.z.z.z."));
  expect_nesting_error([] { Config::parse(kMinimal, "m.yaml", {"eval.x=&a [*a]"}); });
  EXPECT_THAT(config_error([] { Config::parse(kMinimal, "m.yaml", {"eval.x=&a [*a]"}); }),
              HasSubstr("<command line>:1:1: malformed override 'eval.x=&a [*a]': the value has nesting deeper "
                        "than 64 levels"));
  fs::remove_all(dir);
}

TEST(ConfigHostile, DeepNestingNamesTheLimit) {
  std::string deep = "a: ";
  for (int i = 0; i < 80; ++i) deep += "{a: ";
  deep += "1";
  for (int i = 0; i < 80; ++i) deep += "}";
  const std::string msg = config_error([&] { Config::parse(deep + "\n", "deep.yaml"); });
  EXPECT_THAT(msg, HasSubstr("deep.yaml:1:"));
  EXPECT_THAT(msg, HasSubstr("nesting deeper than 64 levels at a.a.a."));
  // Far deeper: yaml-cpp's own guard used to say "YAML syntax error: bad file".
  std::string deeper = "a: " + std::string(3000, '[') + std::string(3000, ']');
  EXPECT_THAT(config_error([&] { Config::parse(deeper + "\n", "deep.yaml"); }),
              HasSubstr("nesting deeper than 64 levels"));
  EXPECT_THAT(config_error([&] { Config::parse(kMinimal, "m.yaml", {"eval.x=" + deeper.substr(3)}); }),
              HasSubstr("the value has nesting deeper than 64 levels"));
  // 60 levels are fine.
  std::string ok = "eval: {x: ";
  for (int i = 0; i < 60; ++i) ok += "[";
  for (int i = 0; i < 60; ++i) ok += "]";
  EXPECT_NO_THROW(Config::parse(ok + "}\n", "ok.yaml"));
}

TEST(ConfigHostile, NonFiniteFloatsAreConfigErrors) {
  for (const std::string v : {".nan", ".NaN", ".inf", "-.inf", "+.Inf"}) {
    const std::string msg = config_error([&] { resolve(Config::parse(kMinimal, "m.yaml", {"train.lr=" + v})); });
    EXPECT_THAT(msg, HasSubstr("<command line>:1:1: train.lr: expected a finite number (float >= 0), found " + v))
        << msg;
  }
  const std::string text =
      "backbone: {type: sasrec}\nsplit: {scheme: loo}\ndata:\n"
      "  target: {type: amazon_s3rec, name: Books}\n"
      "  sources:\n    - {type: movielens, weights: [1.0, .nan]}\n";
  EXPECT_THAT(
      config_error([&] { resolve(Config::parse(text, "w.yaml")); }),
      HasSubstr("w.yaml:6:25: data.sources[0].weights: expected a finite number (list<float>), found [1.0, .nan]"));
}


// Before the fix an unknown key, type name or override echoed its token whole: a 1 MB token made a 1 MB
// message (printed, and stored with a failed run) and binary bytes reached the terminal raw.
TEST(ConfigHostile, EchoedTokensAreCutAndEscaped) {
  const std::string huge(1 << 20, 'k');
  auto check = [&](const std::string& msg) {
    EXPECT_LT(msg.size(), 2000u) << msg.substr(0, 300);
    EXPECT_THAT(msg, HasSubstr("... (10485"));  // the token plus what surrounds it
  };
  // An unknown key in a file, an unknown component type and a malformed override.
  check(config_error([&] { resolve(Config::parse(std::string(kMinimal) + "? " + huge + "\n: 1\n", "k.yaml")); }));
  check(config_error([&] { resolve(Config::parse(kMinimal, "m.yaml", {"backbone.type=" + huge})); }));
  check(config_error([&] { Config::parse(kMinimal, "m.yaml", {"train.x={" + huge + ".y: 1}"}); }));
  check(config_error([&] { Config::parse(kMinimal, "m.yaml", {"eval.ks[7]" + huge + "=1"}); }));
  // Control bytes are escaped, never printed raw.
  const std::string msg =
      config_error([&] { resolve(Config::parse(kMinimal, "m.yaml", {std::string("backbone.type=a\x1b[2Jb")})); });
  EXPECT_THAT(msg, HasSubstr("'a\\x1b[2Jb'")) << msg;
  EXPECT_EQ(msg.find('\x1b'), std::string::npos) << msg;
}

}  // namespace
}  // namespace xrec::config_test
