// Deterministic random llama models for tests and benchmarks, written as GGUF or as a Hugging
// Face directory. Every weight is a function of (seed, tensor name, GGUF row, column) computed
// with integer arithmetic and one rounding, so files are bit-identical on every machine and for
// any thread count, and the same seed gives the same model in both formats.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/convert/llama_tensors.h"
#include "engine/dtype/dtype.h"
#include "engine/model/llama_config.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine {

struct RandomModelSpec {
  std::string preset = "tiny";  //!< recorded in the files (general.name, config.json)
  LlamaConfig config;           //!< tied_embeddings selects the tied variant (no output.weight)
  uint64_t seed = 0;
  //! Matrix storage type. GGUF keeps norms F32 (holding values exactly representable in
  //! `dtype`); the Hugging Face format stores every tensor in `dtype` (Q8_0 is GGUF only).
  DType dtype = DType::kF32;
  int n_threads = 0;  //!< 0: all hardware threads; never changes the output
};

//! "tiny", "tiny-gqa", "tinyllama", "llama2-7b".
const std::vector<std::string>& RandomModelPresetNames();
//! The spec of a preset (seed 0, F32); NotFound for an unknown name, listing the known ones.
Result<RandomModelSpec> RandomModelPreset(std::string_view name);
//! Checks sizes the generator depends on (vocabulary of at least 260 tokens, even head_dim,
//! KV heads dividing heads, llama3 factors filled); `hf` also requires an F32/F16/BF16 dtype.
Status CheckRandomModelSpec(const RandomModelSpec& spec, bool hf);

//! The synthetic SentencePiece vocabulary of `n_vocab` (>= 260) tokens: <unk>=0, <s>=1, </s>=2, the 256
//! byte tokens <0x00>..<0xFF>, then "▁", characters, "▁"+letter, common words (with every
//! prefix, so BPE merges reach them) and letter n-grams, scores descending. Carries a LLaMA-2
//! chat template; BOS added, EOS not, dummy prefix on.
VocabData RandomModelVocab(int32_t n_vocab);
//! The LLaMA-2 chat template written into generated tokenizers.
const std::string& Llama2ChatTemplate();

//! Row `gguf_row` (GGUF order) of `tensor` as the model holds it: for F32/F16/BF16 specs the
//! values exactly as stored (already rounded to the dtype); for Q8_0 the values before
//! quantization. `out` has tensor.cols floats. Matrices are centred with std 1/sqrt(in_features)
//! (2/sqrt(dim) for output.weight, 1 for token_embd); norms are 1 +- 0.1. A tied model has
//! token_embd std 0.25/sqrt(dim) and output_norm 8 +- 0.8, so that its logits also have a std
//! of about 2 without each token predicting itself.
void RandomModelRow(const RandomModelSpec& spec, const LlamaTensorSpec& tensor, int64_t gguf_row, float* out);

//! Writes the model as GGUF to `path` (streams tensor by tensor, rows generated in parallel).
Status WriteRandomGguf(const RandomModelSpec& spec, const std::string& path);
//! Writes a Hugging Face directory `dir` (created if needed): config.json, model.safetensors
//! (Q/K rows in Hugging Face order), tokenizer.model, tokenizer_config.json,
//! special_tokens_map.json, generation_config.json.
Status WriteRandomHfDir(const RandomModelSpec& spec, const std::string& dir);

}  // namespace meridian::engine
