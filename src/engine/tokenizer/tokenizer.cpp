// MakeTokenizer (vocabulary validation and dispatch), Decode, end-of-generation checks and the
// incremental detokenizer.
#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/tokenizer/pretokenizer.h"
#include "engine/tokenizer/tokenizer_bpe.h"
#include "engine/tokenizer/tokenizer_spm.h"
#include "engine/tokenizer/unicode.h"

namespace meridian::engine {
namespace {

using tokenizer_internal::kReplacementChar;

Status CheckId(const char* what, int32_t id, size_t n) {
  if (id < -1 || (id >= 0 && static_cast<size_t>(id) >= n)) {
    return InvalidArgument(std::string("vocabulary ") + what + " id " + std::to_string(id) +
                           " is out of range for " + std::to_string(n) + " tokens");
  }
  return Status::Ok();
}

Status ValidateVocab(VocabData& vocab) {
  const size_t n = vocab.tokens.size();
  if (n == 0) return InvalidArgument("vocabulary has no tokens");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max() / 2)) {
    return InvalidArgument("vocabulary has " + std::to_string(n) + " tokens; at most 2^30 are supported");
  }
  size_t total_bytes = 0;
  for (const std::string& t : vocab.tokens) total_bytes += t.size();
  if (total_bytes >= (size_t{1} << 31)) return InvalidArgument("vocabulary token texts exceed 2 GiB");
  if (!vocab.scores.empty()) {
    if (vocab.scores.size() != n) {
      return InvalidArgument("vocabulary has " + std::to_string(vocab.scores.size()) + " scores for " +
                             std::to_string(n) + " tokens");
    }
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(vocab.scores[i]))
        return InvalidArgument("score of token " + std::to_string(i) + " is NaN");
    }
  }
  if (!vocab.token_types.empty()) {
    if (vocab.token_types.size() != n) {
      return InvalidArgument("vocabulary has " + std::to_string(vocab.token_types.size()) +
                             " token types for " + std::to_string(n) + " tokens");
    }
    for (size_t i = 0; i < n; ++i) {
      int32_t& t = vocab.token_types[i];
      if (t == 0) t = static_cast<int32_t>(TokenType::kNormal);  // GGUF "undefined"
      if (t < 1 || t > 6) {
        return InvalidArgument("token " + std::to_string(i) + " has type " + std::to_string(t) +
                               "; valid types are 1 (normal) to 6 (byte)");
      }
    }
  }
  MERIDIAN_RETURN_IF_ERROR(CheckId("BOS", vocab.bos_id, n));
  MERIDIAN_RETURN_IF_ERROR(CheckId("EOS", vocab.eos_id, n));
  MERIDIAN_RETURN_IF_ERROR(CheckId("unknown-token", vocab.unk_id, n));
  MERIDIAN_RETURN_IF_ERROR(CheckId("padding", vocab.pad_id, n));
  for (int32_t id : vocab.eog_ids) {
    if (id < 0)
      return InvalidArgument("vocabulary end-of-generation id " + std::to_string(id) + " is negative");
    MERIDIAN_RETURN_IF_ERROR(CheckId("end-of-generation", id, n));
  }
  if (vocab.add_bos && vocab.bos_id < 0) {
    return InvalidArgument(
        "vocabulary asks for a BOS token at the start of each text but has no BOS token id");
  }
  if (vocab.add_eos && vocab.eos_id < 0) {
    return InvalidArgument(
        "vocabulary asks for an EOS token at the end of each text but has no EOS token id");
  }
  if (vocab.kind == TokenizerKind::kBytePairBpe) {
    if (vocab.merges.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max()) / 4) {
      return InvalidArgument("vocabulary has too many merges");
    }
    for (size_t i = 0; i < vocab.merges.size(); ++i) {
      const std::string& m = vocab.merges[i];
      const size_t space = m.find(' ', 1);
      if (space == std::string::npos || space + 1 >= m.size()) {
        return InvalidArgument("BPE merge " + std::to_string(i) + " ('" + m.substr(0, 64) +
                               "') is not two pieces separated by a space");
      }
    }
  } else if (vocab.kind != TokenizerKind::kSentencePiece) {
    return InvalidArgument("unknown tokenizer kind " + std::to_string(static_cast<int>(vocab.kind)));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> MakeTokenizer(VocabData vocab) {
  MERIDIAN_RETURN_IF_ERROR(ValidateVocab(vocab));
  if (vocab.kind == TokenizerKind::kSentencePiece) {
    return std::unique_ptr<Tokenizer>(new tokenizer_internal::SpmTokenizer(std::move(vocab)));
  }
  MERIDIAN_ASSIGN_OR_RETURN(tokenizer_internal::PreTokenizer pre,
                            tokenizer_internal::PreTokenizerForName(vocab.pre));
  return std::unique_ptr<Tokenizer>(new tokenizer_internal::BpeTokenizer(std::move(vocab), pre));
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool strip_leading_space) const {
  bool strip = strip_leading_space && vocab_.kind == TokenizerKind::kSentencePiece && vocab_.add_space_prefix;
  std::string out;
  for (int32_t id : ids) {
    std::string piece = TokenBytes(id);
    if (strip && !piece.empty()) {
      if (piece[0] == ' ') piece.erase(0, 1);
      strip = false;
    }
    out += piece;
  }
  return out;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  if (id < 0) return false;
  return id == vocab_.eos_id ||
         std::find(vocab_.eog_ids.begin(), vocab_.eog_ids.end(), id) != vocab_.eog_ids.end();
}

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer, bool strip_leading_space)
    : tokenizer_(tokenizer),
      strip_leading_space_(strip_leading_space && tokenizer.vocab().kind == TokenizerKind::kSentencePiece &&
                           tokenizer.vocab().add_space_prefix) {}

namespace {

// Moves the complete characters at the front of `pending` to the result. Bytes that can never
// become a character turn into U+FFFD (one per maximal ill-formed subpart); an incomplete but
// so far well-formed sequence at the end stays in `pending` unless `flush`.
std::string Drain(std::string& pending, bool flush) {
  std::string out;
  size_t pos = 0;
  while (pos < pending.size()) {
    if (static_cast<uint8_t>(pending[pos]) < 0x80) {
      out.push_back(pending[pos++]);
      continue;
    }
    const tokenizer_internal::Utf8Prefix scan = tokenizer_internal::ScanUtf8(pending, pos);
    if (scan.valid > 0 && scan.valid == scan.needed) {
      out.append(pending, pos, scan.valid);
      pos += scan.valid;
    } else if (scan.valid > 0 && pos + scan.valid == pending.size() && !flush) {
      break;  // wait for the rest of this character
    } else {
      out += kReplacementChar;
      pos += std::max<size_t>(scan.valid, 1);
    }
  }
  pending.erase(0, pos);
  return out;
}

}  // namespace

std::string IncrementalDetokenizer::Push(int32_t id) {
  std::string bytes = tokenizer_.TokenBytes(id);
  if (first_) {
    if (bytes.empty()) return {};
    first_ = false;
    if (strip_leading_space_ && bytes[0] == ' ') bytes.erase(0, 1);
  }
  pending_ += bytes;
  return Drain(pending_, /*flush=*/false);
}

std::string IncrementalDetokenizer::Flush() {
  return Drain(pending_, /*flush=*/true);
}

}  // namespace meridian::engine
