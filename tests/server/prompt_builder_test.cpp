// Prompt building on the shipped model's tokenizer: the model's own chat template, the built-in
// fallbacks, BOS handling, template errors, and the served-model id.
#include "server/prompt_builder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/model/model.h"
#include "server/openai_request.h"
#include "server/serving_engine.h"

namespace meridian::server {
namespace {

class PromptBuilderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = engine::Model::Load(std::string(MERIDIAN_SOURCE_DIR) + "/models/meridian-brown-q8_0.gguf");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = m->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static const engine::Tokenizer& tok() { return model_->tokenizer(); }
  static engine::Model* model_;
};
engine::Model* PromptBuilderTest::model_ = nullptr;

TEST_F(PromptBuilderTest, UsesTheModelsTemplateAndOneBos) {
  auto b = PromptBuilder::Create(tok(), "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->template_source(), "model");
  const std::vector<engine::ChatMessage> chat = {{"system", "Be brief."}, {"user", "Hello"}};
  auto ids = b->Chat(chat, true);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_FALSE(ids->empty());
  EXPECT_EQ(ids->front(), tok().bos_id());
  EXPECT_NE((*ids)[1], tok().bos_id()) << "BOS doubled";
  const std::string text = tok().Decode(*ids);
  EXPECT_NE(text.find("[INST]"), std::string::npos) << text;
  EXPECT_NE(text.find("Hello"), std::string::npos) << text;
  EXPECT_NE(text.find("Be brief."), std::string::npos) << text;
}

TEST_F(PromptBuilderTest, BuiltinTemplatesAndFiles) {
  for (const char* name : {"llama2", "llama3", "chatml"}) {
    auto b = PromptBuilder::Create(tok(), name);
    ASSERT_TRUE(b.ok()) << name << ": " << b.status().ToString();
    EXPECT_EQ(b->template_source(), std::string("builtin:") + name);
    auto ids = b->Chat(std::vector<engine::ChatMessage>{{"user", "Hi"}}, true);
    ASSERT_TRUE(ids.ok()) << name;
    EXPECT_EQ(ids->front(), tok().bos_id()) << name;
  }
  // LLaMA-2 refuses two user turns in a row, with the template's own message.
  auto llama2 = PromptBuilder::Create(tok(), "llama2");
  auto bad = llama2->Chat(std::vector<engine::ChatMessage>{{"user", "a"}, {"user", "b"}}, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("alternate"), std::string::npos) << bad.status().message();

  const std::string path =
      std::filesystem::temp_directory_path() / ("meridian_tmpl_" + std::to_string(getpid()));
  std::ofstream(path) << "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}";
  auto file = PromptBuilder::Create(tok(), path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->template_source(), "file:" + path);
  std::ofstream(path) << "{% for m in messages %}";
  EXPECT_FALSE(PromptBuilder::Create(tok(), path).ok());
  std::filesystem::remove(path);
  auto missing = PromptBuilder::Create(tok(), "no-such-template");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("neither a built-in template"), std::string::npos);
}

TEST_F(PromptBuilderTest, TextPromptsAddBosOnRequest) {
  auto b = PromptBuilder::Create(tok(), "");
  auto with = b->Text("Hello there", true);
  auto without = b->Text("Hello there", false);
  ASSERT_TRUE(with.ok() && without.ok());
  EXPECT_EQ(with->size(), without->size() + 1);
  EXPECT_EQ(with->front(), tok().bos_id());
}

TEST(ServingEngine, ModelIdFromPath) {
  EXPECT_EQ(ModelIdFromPath("/models/meridian-brown-q8_0.gguf"), "meridian-brown-q8_0");
  EXPECT_EQ(ModelIdFromPath("models/hf/tinyllama/"), "tinyllama");
  EXPECT_EQ(ModelIdFromPath("x.bin"), "x.bin");
}

TEST(OpenAiRequestUtf8, ErrorBodiesStayValidUtf8) {
  EXPECT_EQ(ToValidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(ToValidUtf8("a\xff"
                        "b\xc3"),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  ApiError e = BadRequest("bad \xe2\x82 model");
  EXPECT_TRUE(engine::IsValidUtf8(ApiErrorJson(e)));
}

}  // namespace
}  // namespace meridian::server
