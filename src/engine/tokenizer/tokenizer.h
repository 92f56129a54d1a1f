// Tokenizer interface and the vocabulary data every tokenizer is built from, whatever the source
// (GGUF metadata, tokenizer.json, tokenizer.model). Tokenizers are immutable after construction:
// Encode/Decode are safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::engine {

class GgufFile;

enum class TokenizerKind { kSentencePiece, kBytePairBpe };

//! GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

//! Everything a tokenizer needs, in GGUF terms (tokenizer.ggml.*).
struct VocabData {
  TokenizerKind kind = TokenizerKind::kSentencePiece;
  std::vector<std::string> tokens;  //!< pieces as stored (SPM: "▁the", "<0x0A>"; BPE: GPT-2 byte-mapped)
  std::vector<float> scores;        //!< SPM merge priorities (may be empty for BPE)
  std::vector<int32_t> token_types; //!< TokenType values (may be empty: all normal, except that
                                    //!< "<0xAB>" SPM pieces count as bytes and bos/eos/pad/eog ids
                                    //!< as control, unk_id as unknown)
  std::vector<std::string> merges;  //!< BPE merges "a b", in rank order
  std::string pre = "default";      //!< BPE pre-tokenizer name ("llama-bpe", "gpt2", "default"...)
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  std::vector<int32_t> eog_ids;     //!< extra end-of-generation ids (e.g. <|eot_id|>)
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;     //!< SPM "add dummy prefix"
  std::string chat_template;        //!< Jinja source, if the model has one
};

//! Reads tokenizer.ggml.* (and tokenizer.chat_template) from GGUF metadata.
Result<VocabData> VocabFromGguf(const GgufFile& file);
//! Reads a Hugging Face tokenizer.json (BPE model, byte-level; or SentencePiece-style BPE with
//! byte fallback as LLaMA-2 exports it), plus tokenizer_config.json beside it when present.
Result<VocabData> VocabFromTokenizerJson(const std::string& tokenizer_json_path);
//! Reads a SentencePiece tokenizer.model (protobuf ModelProto), plus tokenizer_config.json beside
//! it when present. Only BPE models with the identity normalizer and no extra-whitespace removal
//! are accepted (others are Unimplemented); malformed files are DataLoss.
Result<VocabData> VocabFromSentencePieceModel(const std::string& model_path);
//! Parses the bytes of a tokenizer.model; `name` appears in error messages.
Result<VocabData> ParseSentencePieceModel(std::string_view bytes, const std::string& name = "<memory>");

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  //! Encodes UTF-8 text (invalid UTF-8 is InvalidArgument). `add_bos` adds the vocabulary's
  //! special tokens as llama.cpp's add_special does: BOS in front when vocab().add_bos, EOS at the
  //! end when vocab().add_eos. `parse_special` turns control-token text like "<|eot_id|>" into
  //! its id; user-defined tokens are always matched (as Hugging Face does). SentencePiece
  //! vocabularies add the dummy-prefix space at the start and after every special token.
  virtual Result<std::vector<int32_t>> Encode(std::string_view text, bool add_bos,
                                              bool parse_special) const = 0;
  //! The raw bytes of one token (byte tokens become their byte, "▁" becomes a space;
  //! control tokens give "" unless `render_special`).
  virtual std::string TokenBytes(int32_t id, bool render_special = false) const = 0;
  //! Decodes a token sequence; strips the SPM dummy-prefix space of the first token when
  //! `strip_leading_space`.
  std::string Decode(std::span<const int32_t> ids, bool strip_leading_space = true) const;

  const VocabData& vocab() const { return vocab_; }
  int32_t n_vocab() const { return static_cast<int32_t>(vocab_.tokens.size()); }
  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  //! True for EOS and any extra end-of-generation token.
  bool IsEndOfGeneration(int32_t id) const;
  //! Id of a token whose text is exactly `piece`, or -1.
  virtual int32_t FindToken(std::string_view piece) const = 0;

 protected:
  explicit Tokenizer(VocabData vocab) : vocab_(std::move(vocab)) {}
  VocabData vocab_;
};

//! Builds the tokenizer the vocabulary describes; InvalidArgument if it is inconsistent.
Result<std::unique_ptr<Tokenizer>> MakeTokenizer(VocabData vocab);

//! Turns a stream of token ids into UTF-8 text pieces without ever emitting part of a
//! character: bytes of an incomplete sequence are held until it completes. Not thread-safe
//! (one per sequence).
class IncrementalDetokenizer {
 public:
  //! `strip_leading_space` drops the SentencePiece dummy-prefix space of the first non-empty
  //! piece: right when the stream starts a text, wrong when it continues one (generated tokens
  //! after a prompt: pass false there). Ignored for vocabularies without the dummy prefix.
  explicit IncrementalDetokenizer(const Tokenizer& tokenizer, bool strip_leading_space = true);
  //! Returns the text that became complete with this token (possibly empty).
  std::string Push(int32_t id);
  //! Returns whatever is held back at the end of generation (invalid bytes become U+FFFD).
  //! Everything Push and Flush return is valid UTF-8.
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  bool strip_leading_space_;
  bool first_ = true;
  std::string pending_;
};

//! True if `text` is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace meridian::engine
