#include "xrec/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "xrec/api/errors.hpp"

namespace xrec {
namespace {

using ::testing::HasSubstr;

Component dataset(const std::string& name, const std::string& plugin = "p",
                  const std::string& path = "/p.so") {
  Component c;
  c.kind = Kind::Dataset;
  c.name = name;
  c.plugin = plugin;
  c.path = path;
  c.dataset = [](const Params&, const PluginContext&) { return std::shared_ptr<Dataset>(); };
  return c;
}

Component backbone(const std::string& name, const std::string& plugin = "p",
                   const std::string& path = "/p.so") {
  Component c;
  c.kind = Kind::Backbone;
  c.name = name;
  c.plugin = plugin;
  c.path = path;
  c.backbone = [](const Params&, const PluginContext&) { return std::shared_ptr<Backbone>(); };
  return c;
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(Registry, FindsWhatWasAdded) {
  Registry r;
  Component c = backbone("sasrec", "sasrec", "/plugins/sasrec.so");
  c.doc = "Self-attentive";
  c.params = {param::integer("hidden", 64, "Hidden size")};
  r.add(std::move(c));
  const Component* found = r.find(Kind::Backbone, "sasrec");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->doc, "Self-attentive");
  EXPECT_EQ(found->plugin, "sasrec");
  EXPECT_EQ(found->path, "/plugins/sasrec.so");
  ASSERT_EQ(found->params.size(), 1u);
  EXPECT_EQ(found->params[0].name, "hidden");
  EXPECT_TRUE(found->backbone);
  EXPECT_EQ(&r.get(Kind::Backbone, "sasrec"), found);
}

TEST(Registry, KindsAreSeparateNamespaces) {
  Registry r;
  r.add(dataset("same"));
  r.add(backbone("same"));
  EXPECT_NE(r.find(Kind::Dataset, "same"), nullptr);
  EXPECT_NE(r.find(Kind::Backbone, "same"), nullptr);
  EXPECT_EQ(r.find(Kind::Quantizer, "same"), nullptr);
  EXPECT_EQ(r.find(Kind::Dataset, "other"), nullptr);
}

TEST(Registry, DuplicateNamesBothPlugins) {
  Registry r;
  r.add(backbone("sasrec", "sasrec", "/a/sasrec.so"));
  std::string msg;
  try {
    r.add(backbone("sasrec", "fork", "/b/fork.so"));
    FAIL() << "a duplicate (kind, name) must throw";
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg,
            "backbone 'sasrec' is registered twice: by plugin 'sasrec' (/a/sasrec.so) and by plugin 'fork' "
            "(/b/fork.so)");
  EXPECT_EQ(r.find(Kind::Backbone, "sasrec")->plugin, "sasrec");  // the first stays
}

TEST(Registry, RejectsComponentsWithoutFactoryOrName) {
  Registry r;
  Component no_factory = dataset("raw");
  no_factory.dataset = nullptr;
  EXPECT_EQ(message_of([&] { r.add(no_factory); }),
            "dataset 'raw' from plugin 'p' (/p.so) has no dataset factory");

  Component wrong_factory = dataset("mixed");
  wrong_factory.kind = Kind::Baseline;  // a dataset factory does not make a baseline
  EXPECT_THAT(message_of([&] { r.add(wrong_factory); }), HasSubstr("has no baseline factory"));

  Component unnamed = dataset("");
  EXPECT_THAT(message_of([&] { r.add(unnamed); }), HasSubstr("cannot register a dataset with an empty name"));
  EXPECT_TRUE(r.list().empty());
}

TEST(Registry, GetUnknownSuggestsAndListsKnown) {
  Registry r;
  r.add(backbone("sasrec"));
  r.add(backbone("bert4rec"));
  r.add(dataset("sasrec_data"));  // another kind: not offered for a backbone
  std::string msg;
  try {
    r.get(Kind::Backbone, "sasrecc");
    FAIL() << "an unknown name must throw";
  } catch (const InputError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, "unknown backbone 'sasrecc'; did you mean 'sasrec'? known: bert4rec, sasrec");
  EXPECT_EQ(message_of([&] { r.get(Kind::Backbone, "transformer"); }),
            "unknown backbone 'transformer'; known: bert4rec, sasrec");
}

TEST(Registry, GetOfAnEmptyKindSaysNothingIsRegistered) {
  Registry r;
  r.add(backbone("sasrec"));
  EXPECT_EQ(message_of([&] { r.get(Kind::Quantizer, "rq"); }),
            "unknown quantizer 'rq'; no quantizer is registered (is its plugin in a plugin folder?)");
}

TEST(Registry, ListsByKindThenName) {
  Registry r;
  r.add(backbone("sasrec"));
  r.add(dataset("movielens"));
  r.add(backbone("gru4rec"));
  r.add(dataset("amazon"));
  std::vector<std::string> order;
  for (const Component* c : r.list()) order.push_back(std::string(to_string(c->kind)) + ":" + c->name);
  EXPECT_EQ(order, (std::vector<std::string>{"dataset:amazon", "dataset:movielens", "backbone:gru4rec",
                                             "backbone:sasrec"}));
  EXPECT_EQ(r.names(Kind::Backbone), (std::vector<std::string>{"gru4rec", "sasrec"}));
  EXPECT_TRUE(r.names(Kind::Transfer).empty());
}

TEST(Registry, ComponentsAddedByTheHostAreNamedSo) {
  Registry r;
  r.add(dataset("mem", "", ""));
  EXPECT_EQ(message_of([&] { r.add(dataset("mem", "late", "/late.so")); }),
            "dataset 'mem' is registered twice: by the host and by plugin 'late' (/late.so)");
}

}  // namespace
}  // namespace xrec
