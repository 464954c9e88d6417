#include "xrec/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "xrec/api/errors.hpp"
#include "xrec/api/kinds.hpp"

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
  c.set_factory<Dataset>([](const Params&, const PluginContext&) { return std::shared_ptr<Dataset>(); });
  return c;
}

Component backbone(const std::string& name, const std::string& plugin = "p",
                   const std::string& path = "/p.so") {
  Component c;
  c.kind = Kind::Backbone;
  c.name = name;
  c.plugin = plugin;
  c.path = path;
  c.set_factory<Backbone>([](const Params&, const PluginContext&) { return std::shared_ptr<Backbone>(); });
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
  EXPECT_TRUE(found->has_factory());
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
  no_factory.factory = nullptr;
  EXPECT_EQ(message_of([&] { r.add(no_factory); }),
            "dataset 'raw' from plugin 'p' (/p.so) has no dataset factory");

  Component wrong_factory = dataset("mixed");
  wrong_factory.kind = Kind::Baseline;  // a dataset factory does not make a baseline
  EXPECT_EQ(message_of([&] { r.add(wrong_factory); }),
            "baseline 'mixed' from plugin 'p' (/p.so) has no baseline factory (its factory makes a dataset)");

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

// A registrar that records what reaches its single virtual entry.
class RecordingRegistrar : public Registrar {
 public:
  void add_component(Kind kind, const std::string& name, const std::string& doc, ParamSpecs params,
                     AnyFactory factory) override {
    Component c;
    c.kind = kind;
    c.name = name;
    c.doc = doc;
    c.params = std::move(params);
    c.factory = std::move(factory);
    c.factory_kind = kind;
    added.push_back(std::move(c));
  }
  std::vector<Component> added;
};

TEST(Kinds, TableDrivesNamesPluralsAndParsing) {
  std::vector<std::string> names;
  for (Kind k : all_kinds()) names.push_back(to_string(k));
  EXPECT_EQ(names, (std::vector<std::string>{"dataset", "backbone", "quantizer", "transfer", "baseline",
                                             "item_encoder", "pointwise_model"}));
  EXPECT_STREQ(kind_plural(Kind::ItemEncoder), "item encoders");
  EXPECT_STREQ(kind_plural(Kind::Transfer), "transfer strategies");
  EXPECT_STREQ(kind_doc(Kind::Dataset), "Reads one domain's data");
  for (Kind k : all_kinds()) {
    ASSERT_TRUE(kind_from_string(to_string(k)).has_value()) << to_string(k);
    EXPECT_EQ(*kind_from_string(to_string(k)), k);
    EXPECT_STRNE(kind_doc(k), "");
  }
  EXPECT_FALSE(kind_from_string("Backbone").has_value());
  EXPECT_FALSE(kind_from_string("item encoder").has_value());
  EXPECT_FALSE(kind_from_string("").has_value());
  static_assert(kind_of<Backbone>() == Kind::Backbone);
  static_assert(kind_of<ItemEncoder>() == Kind::ItemEncoder);
  static_assert(kind_of<PointwiseModel>() == Kind::PointwiseModel);
}

TEST(Kinds, RegistrarEntryPointsAllReachTheOneVirtual) {
  RecordingRegistrar reg;
  reg.add_backbone("sasrec", "doc", {param::integer("hidden", 64, "Hidden")},
                   [](const Params&, const PluginContext&) { return std::shared_ptr<Backbone>(); });
  reg.add<Quantizer>("rq", "", {}, [](const Params&, const PluginContext&) { return std::shared_ptr<Quantizer>(); });
  // The wave-2 kinds only need their forward declarations to be registered.
  reg.add_item_encoder("id", "Item id table", {},
                       [](const Params&, const PluginContext&) { return std::shared_ptr<ItemEncoder>(); });
  reg.add<PointwiseModel>("dnn", "", {},
                          [](const Params&, const PluginContext&) { return std::shared_ptr<PointwiseModel>(); });
  ASSERT_EQ(reg.added.size(), 4u);
  EXPECT_EQ(reg.added[0].kind, Kind::Backbone);
  EXPECT_EQ(reg.added[0].name, "sasrec");
  EXPECT_EQ(reg.added[0].doc, "doc");
  ASSERT_EQ(reg.added[0].params.size(), 1u);
  EXPECT_EQ(reg.added[1].kind, Kind::Quantizer);
  EXPECT_EQ(reg.added[2].kind, Kind::ItemEncoder);
  EXPECT_EQ(reg.added[3].kind, Kind::PointwiseModel);
  for (const Component& c : reg.added) EXPECT_TRUE(c.has_factory()) << c.name;

  // An empty typed factory stays empty once erased, so the registry still says "no factory".
  reg.add_dataset("empty", "", {}, Factory<Dataset>());
  EXPECT_FALSE(reg.added.back().has_factory());
}

TEST(Kinds, MakeReturnsTheFactorysObjectAndRefusesAnotherKind) {
  // A real object behind a forward-declared kind: the factory's pointer comes back unchanged.
  static int made = 0;
  auto token = std::make_shared<int>(42);
  Registry r;
  Component c;
  c.kind = Kind::ItemEncoder;
  c.name = "id";
  c.set_factory<ItemEncoder>([token](const Params&, const PluginContext&) {
    ++made;
    return std::shared_ptr<ItemEncoder>(token, reinterpret_cast<ItemEncoder*>(token.get()));
  });
  r.add(c);
  const Component& got = r.get(Kind::ItemEncoder, "id");
  const Params params;
  const PluginContext ctx;
  std::shared_ptr<ItemEncoder> e = got.make<ItemEncoder>(params, ctx);
  EXPECT_EQ(static_cast<void*>(e.get()), static_cast<void*>(token.get()));
  EXPECT_EQ(got.item_encoder(params, ctx).get(), e.get());  // the generated accessor is make<ItemEncoder>
  EXPECT_EQ(made, 2);

  EXPECT_EQ(message_of([&] { got.make<PointwiseModel>(params, ctx); }),
            "kind mismatch: asked for a component of kind pointwise_model, but item_encoder 'id' is of kind "
            "item_encoder");
  EXPECT_EQ(message_of([&] { got.backbone(params, ctx); }),
            "kind mismatch: asked for a component of kind backbone, but item_encoder 'id' is of kind item_encoder");
  EXPECT_EQ(made, 2);  // a refused make never calls the factory
}

}  // namespace
}  // namespace xrec
