// The config schema as a tree of key names.

#include "internal.hpp"

namespace xrec::config_detail {

SchemaNode build_schema_tree(const ConfigSchema& schema) {
  SchemaNode root;
  auto insert = [&](const std::string& path) -> SchemaNode& {
    SchemaNode* n = &root;
    const std::vector<std::string> parts = split_dots(path);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].empty()) throw Error("config schema: empty key in path '" + path + "'");
      if (n->leaf()) throw Error("config schema: '" + path + "' lies inside another section or slot");
      n = &n->children[parts[i]];
    }
    if (n->leaf() || !n->children.empty()) throw Error("config schema: '" + path + "' is defined twice");
    return *n;
  };
  for (auto& [name, specs] : schema.sections) {
    if (name.empty()) continue;
    SchemaNode& n = insert(name);
    n.section = name;
    n.specs = &specs;
  }
  for (auto& slot : schema.slots) insert(slot.path).slot = &slot;
  if (auto top = schema.sections.find(""); top != schema.sections.end())
    for (auto& spec : top->second)
      if (root.children.count(spec.name) || spec.name == "plugin_paths" || spec.name == "defaults")
        throw Error("config schema: top-level key '" + spec.name + "' clashes with a section, slot or reserved key");
  if (!schema.stage_section.empty()) {
    if (!schema.sections.count(schema.stage_section) || schema.stage_section.empty())
      throw Error("config schema: stage_section '" + schema.stage_section + "' is not a section");
    if (root.children.count("stages"))
      throw Error("config schema: 'stages' is reserved for per-stage options (stage_section is set)");
    if (auto top = schema.sections.find(""); top != schema.sections.end())
      for (auto& spec : top->second)
        if (spec.name == "stages")
          throw Error("config schema: top-level key 'stages' is reserved for per-stage options");
  }
  return root;
}

}  // namespace xrec::config_detail
