#include "xrec/engine/schema.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

// docs/config.md must list every host key the schema declares (sections, and the keys every component of a
// slot takes): the reference stays true to the code.
TEST(Schema, EveryHostKeyIsDocumented) {
  std::ifstream in(std::string(XREC_TEST_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in) << "docs/config.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto reference = doc.find("## Sections reference");
  ASSERT_NE(reference, std::string::npos);
  const auto& schema = xrec::engine::run_schema();
  for (auto& [section, specs] : schema.sections) {
    if (!section.empty()) {
      EXPECT_NE(doc.find("### `" + section + "`", reference), std::string::npos) << section;
    }
    for (auto& spec : specs)
      EXPECT_NE(doc.find("| `" + spec.name + "` |", reference), std::string::npos)
          << (section.empty() ? "" : section + ".") << spec.name << " is not in docs/config.md's Sections reference";
  }
  for (auto& slot : schema.slots) {
    if (slot.path.rfind("data.", 0) == 0) {
      EXPECT_NE(doc.find("`" + slot.path + "`", reference), std::string::npos) << slot.path;
    }
    for (auto& spec : slot.common)  // host keys of every such section, e.g. k_core of every data section
      EXPECT_NE(doc.find("| `" + spec.name + "` |", reference), std::string::npos)
          << spec.name << " (a key of every " << slot.path << " section) is not in docs/config.md's Sections reference";
  }
}
