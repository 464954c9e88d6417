// The schema as a tree of key names (core/src/config/schema_tree.cpp).
#include "config_test_support.hpp"

namespace xrec::config_test {
namespace {

TEST(ConfigSchemaTree, InconsistentSchemasAreProgrammingErrors) {
  ConfigSchema bad = test_schema();
  bad.slots.push_back({"backbone.inner", Kind::Quantizer, false, false, "", {}, {}, {}});
  const Config c = Config::parse(kMinimal);
  try {
    c.resolve(test_registry(), bad);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "a schema bug is not a config error: " << e.what();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("config schema: 'backbone.inner' lies inside another section or slot"));
  }
}

}  // namespace
}  // namespace xrec::config_test
