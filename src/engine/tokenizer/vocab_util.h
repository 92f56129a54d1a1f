// Helpers the vocabulary loaders share: well-known end-of-generation tokens, and the Hugging Face
// tokenizer_config.json / generation_config.json that sit beside a tokenizer file.
// Internal to the tokenizer library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine::tokenizer_internal {

//! Adds to vocab.eog_ids the control/user-defined tokens whose text is a well-known end-of-turn
//! marker (<|eot_id|>, <|eom_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <EOT>,
//! <|end_of_text|>, <｜end▁of▁sentence｜>), as llama.cpp does for files that do not list them.
void AddKnownEndOfGenerationTokens(VocabData& vocab);

//! Appends `id` to vocab.eog_ids unless it is negative, the EOS id, or already there.
void AddEndOfGenerationId(VocabData& vocab, int64_t id);

//! What tokenizer_config.json and generation_config.json say, where they exist.
struct HfTokenizerConfig {
  std::optional<std::string> bos_token, eos_token, unk_token, pad_token;
  std::optional<bool> add_bos, add_eos;
  std::string chat_template;
  std::vector<int64_t> generation_eos_ids;  //!< generation_config.json eos_token_id (int or list)
};

//! Reads tokenizer_config.json and generation_config.json from the folder of `path`. Missing
//! files give an empty config; malformed ones are DataLoss.
Result<HfTokenizerConfig> ReadHfConfigsBeside(const std::string& path);

//! Applies a config to a vocabulary: special tokens by text, add_bos/add_eos, chat template,
//! extra end-of-generation ids.
void ApplyHfConfig(const HfTokenizerConfig& config, VocabData& vocab);

//! Reads a whole file; NotFound / DataLoss with the path in the message.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace meridian::engine::tokenizer_internal
