// VocabFromGguf: the tokenizer.ggml.* metadata of a GGUF file, with llama.cpp's defaults.
#include <limits>

#include "core/log.h"
#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/vocab_util.h"

namespace meridian::engine {
namespace {

constexpr const char* kModelKey = "tokenizer.ggml.model";

Status WrongType(const GgufFile& file, const char* key, const char* expected) {
  return DataLoss(file.name() + ": metadata key '" + key + "' is not " + expected);
}

Result<const GgufValue*> FindArray(const GgufFile& file, const char* key, bool required) {
  const GgufValue* v = file.Find(key);
  if (v == nullptr) {
    if (required) return NotFound(file.name() + ": metadata key '" + key + "' is missing");
    return static_cast<const GgufValue*>(nullptr);
  }
  if (v->type != GgufType::kArray) return WrongType(file, key, "an array");
  return v;
}

// Reads an optional token id. Ids outside the vocabulary are ignored with a warning, as
// llama.cpp does, so that one bad optional key does not make a model unusable.
Status ReadId(const GgufFile& file, const char* key, size_t n_tokens, int32_t& id) {
  if (file.Find(key) == nullptr) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t value, file.GetUint(key));
  if (value >= n_tokens) {
    log::Warn("ignoring out-of-range special token id",
              {{"file", file.name()}, {"key", key}, {"id", static_cast<long long>(value)}});
    return Status::Ok();
  }
  id = static_cast<int32_t>(value);
  return Status::Ok();
}

Status ReadBool(const GgufFile& file, const char* key, bool& out, bool* present = nullptr) {
  if (file.Find(key) == nullptr) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(out, file.GetBool(key));
  if (present != nullptr) *present = true;
  return Status::Ok();
}

}  // namespace

Result<VocabData> VocabFromGguf(const GgufFile& file) {
  if (file.Find(kModelKey) == nullptr) {
    return NotFound(file.name() + ": this GGUF file has no tokenizer (metadata key '" + kModelKey +
                    "' is missing)");
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::string model, file.GetString(kModelKey));
  VocabData v;
  if (model == "llama") {
    v.kind = TokenizerKind::kSentencePiece;
    v.bos_id = 1, v.eos_id = 2, v.unk_id = 0;
    v.add_bos = true;
    v.add_space_prefix = true;
  } else if (model == "gpt2") {
    v.kind = TokenizerKind::kBytePairBpe;
    v.add_bos = false;
    v.add_space_prefix = false;
  } else {
    return Unimplemented(
        file.name() + ": tokenizer model '" + model +
        "' is not supported; Meridian supports 'llama' (SentencePiece) and 'gpt2' (byte-level BPE)");
  }

  MERIDIAN_ASSIGN_OR_RETURN(const GgufValue* tokens, FindArray(file, "tokenizer.ggml.tokens", true));
  if (tokens->array_type != GgufType::kString)
    return WrongType(file, "tokenizer.ggml.tokens", "an array of strings");
  v.tokens = tokens->str_array;
  const size_t n = v.tokens.size();
  if (n == 0) return DataLoss(file.name() + ": tokenizer.ggml.tokens is empty");

  MERIDIAN_ASSIGN_OR_RETURN(const GgufValue* scores, FindArray(file, "tokenizer.ggml.scores", false));
  if (scores != nullptr) {
    if (scores->float_array.size() != n) {
      return DataLoss(file.name() + ": tokenizer.ggml.scores has " + std::to_string(scores->array_size) +
                      " entries (expected " + std::to_string(n) + " floats, one per token)");
    }
    v.scores.reserve(n);
    for (double s : scores->float_array) v.scores.push_back(static_cast<float>(s));
  }

  MERIDIAN_ASSIGN_OR_RETURN(const GgufValue* types, FindArray(file, "tokenizer.ggml.token_type", false));
  if (types != nullptr) {
    if (types->int_array.size() != n) {
      return DataLoss(file.name() + ": tokenizer.ggml.token_type has " + std::to_string(types->array_size) +
                      " entries (expected " + std::to_string(n) + " integers, one per token)");
    }
    v.token_types.reserve(n);
    for (int64_t t : types->int_array) {
      // Out-of-range values stay out of range (-1) so that MakeTokenizer reports them.
      v.token_types.push_back(t >= 0 && t <= 6 ? static_cast<int32_t>(t) : -1);
    }
  }

  MERIDIAN_ASSIGN_OR_RETURN(const GgufValue* merges,
                            FindArray(file, "tokenizer.ggml.merges", v.kind == TokenizerKind::kBytePairBpe));
  if (merges != nullptr) {
    if (merges->array_type != GgufType::kString)
      return WrongType(file, "tokenizer.ggml.merges", "an array of strings");
    v.merges = merges->str_array;
  }

  if (file.Find("tokenizer.ggml.pre") != nullptr) {
    MERIDIAN_ASSIGN_OR_RETURN(v.pre, file.GetString("tokenizer.ggml.pre"));
  }
  // LLaMA-3 vocabularies start every text with <|begin_of_text|> unless the file says otherwise.
  if (v.kind == TokenizerKind::kBytePairBpe &&
      (v.pre == "llama-bpe" || v.pre == "llama3" || v.pre == "llama-v3")) {
    v.add_bos = true;
  }

  // Defaults that do not fit this vocabulary are dropped rather than reported.
  for (int32_t* id : {&v.bos_id, &v.eos_id, &v.unk_id}) {
    if (*id >= static_cast<int32_t>(n)) *id = -1;
  }
  MERIDIAN_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.bos_token_id", n, v.bos_id));
  MERIDIAN_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.eos_token_id", n, v.eos_id));
  MERIDIAN_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.unknown_token_id", n, v.unk_id));
  MERIDIAN_RETURN_IF_ERROR(ReadId(file, "tokenizer.ggml.padding_token_id", n, v.pad_id));
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int32_t id = -1;
    MERIDIAN_RETURN_IF_ERROR(ReadId(file, key, n, id));
    tokenizer_internal::AddEndOfGenerationId(v, id);
  }

  bool add_bos_explicit = false;
  MERIDIAN_RETURN_IF_ERROR(ReadBool(file, "tokenizer.ggml.add_bos_token", v.add_bos, &add_bos_explicit));
  MERIDIAN_RETURN_IF_ERROR(ReadBool(file, "tokenizer.ggml.add_eos_token", v.add_eos));
  MERIDIAN_RETURN_IF_ERROR(ReadBool(file, "tokenizer.ggml.add_space_prefix", v.add_space_prefix));
  if (!add_bos_explicit && v.bos_id < 0) v.add_bos = false;

  if (file.Find("tokenizer.chat_template") != nullptr) {
    MERIDIAN_ASSIGN_OR_RETURN(v.chat_template, file.GetString("tokenizer.chat_template"));
  }
  tokenizer_internal::AddKnownEndOfGenerationTokens(v);
  return v;
}

}  // namespace meridian::engine
