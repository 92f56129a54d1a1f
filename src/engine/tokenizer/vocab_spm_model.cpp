// VocabFromSentencePieceModel: reads a SentencePiece tokenizer.model (protobuf ModelProto) with
// a small wire-format reader of its own. Every length is bounds-checked; anything malformed is
// DataLoss. Only what Meridian encodes faithfully is accepted: BPE models whose normalizer only
// escapes spaces (identity rule, no extra-whitespace removal).
#include <cstring>
#include <limits>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/vocab_util.h"

namespace meridian::engine {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A cursor over one protobuf message.
class WireReader {
 public:
  WireReader(std::string_view bytes, const std::string& path) : data_(bytes), path_(path) {}

  bool done() const { return pos_ >= data_.size(); }

  //! Reads the next field's number and wire type.
  Status Tag(uint32_t& field, uint32_t& wire_type) {
    uint64_t tag = 0;
    MERIDIAN_RETURN_IF_ERROR(Varint(tag));
    field = static_cast<uint32_t>(tag >> 3);
    wire_type = static_cast<uint32_t>(tag & 7);
    if (field == 0 || tag >> 3 > (uint64_t{1} << 29)) return Corrupt("invalid field number");
    return Status::Ok();
  }

  Status Varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Corrupt("truncated varint");
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      out |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return Status::Ok();
    }
    return Corrupt("varint longer than 10 bytes");
  }

  Status Bytes(std::string_view& out) {
    uint64_t len = 0;
    MERIDIAN_RETURN_IF_ERROR(Varint(len));
    if (len > data_.size() - pos_) return Corrupt("length " + std::to_string(len) + " runs past the end");
    out = data_.substr(pos_, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return Status::Ok();
  }

  Status Fixed32(uint32_t& out) {
    if (data_.size() - pos_ < 4) return Corrupt("truncated fixed32");
    const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
    out = uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
    pos_ += 4;
    return Status::Ok();
  }

  Status Skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: {
        uint64_t ignored;
        return Varint(ignored);
      }
      case kFixed64:
        if (data_.size() - pos_ < 8) return Corrupt("truncated fixed64");
        pos_ += 8;
        return Status::Ok();
      case kLengthDelimited: {
        std::string_view ignored;
        return Bytes(ignored);
      }
      case kFixed32: {
        uint32_t ignored;
        return Fixed32(ignored);
      }
      default: return Corrupt("unsupported wire type " + std::to_string(wire_type));
    }
  }

  //! Checks that a known field has the wire type the schema gives it.
  Status Expect(uint32_t field, uint32_t wire_type, uint32_t expected) {
    if (wire_type == expected) return Status::Ok();
    return Corrupt("field " + std::to_string(field) + " has wire type " + std::to_string(wire_type) +
                   " (expected " + std::to_string(expected) + ")");
  }

  Status Corrupt(const std::string& what) const {
    return DataLoss(path_ + ": not a valid SentencePiece model: " + what + " at byte " +
                    std::to_string(pos_));
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  const std::string& path_;
};

struct TrainerSpec {
  int64_t model_type = 1;  // UNIGRAM
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool treat_whitespace_as_suffix = false;
};

struct NormalizerSpec {
  std::string name;
  bool has_charsmap = false;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// int32 fields are varints of the sign-extended 64-bit value.
int32_t AsInt32(uint64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(v));
}

Status ParsePiece(std::string_view bytes, const std::string& path, VocabData& v) {
  WireReader r(bytes, path);
  std::string_view piece;
  float score = 0.0f;
  int64_t type = 1;  // NORMAL
  while (!r.done()) {
    uint32_t field, wt;
    MERIDIAN_RETURN_IF_ERROR(r.Tag(field, wt));
    if (field == 1) {
      MERIDIAN_RETURN_IF_ERROR(r.Expect(field, wt, kLengthDelimited));
      MERIDIAN_RETURN_IF_ERROR(r.Bytes(piece));
    } else if (field == 2) {
      MERIDIAN_RETURN_IF_ERROR(r.Expect(field, wt, kFixed32));
      uint32_t bits = 0;
      MERIDIAN_RETURN_IF_ERROR(r.Fixed32(bits));
      std::memcpy(&score, &bits, sizeof(score));
    } else if (field == 3) {
      MERIDIAN_RETURN_IF_ERROR(r.Expect(field, wt, kVarint));
      uint64_t t;
      MERIDIAN_RETURN_IF_ERROR(r.Varint(t));
      type = static_cast<int64_t>(t);
    } else {
      MERIDIAN_RETURN_IF_ERROR(r.Skip(wt));
    }
  }
  if (type < 1 || type > 6) {
    return DataLoss(path + ": piece " + std::to_string(v.tokens.size()) + " has unknown type " +
                    std::to_string(type));
  }
  v.tokens.emplace_back(piece);
  v.scores.push_back(score);
  v.token_types.push_back(static_cast<int32_t>(type));  // SentencePiece's enum equals GGUF's
  return Status::Ok();
}

Status ParseTrainerSpec(std::string_view bytes, const std::string& path, TrainerSpec& spec) {
  WireReader r(bytes, path);
  while (!r.done()) {
    uint32_t field, wt;
    MERIDIAN_RETURN_IF_ERROR(r.Tag(field, wt));
    if (field == 3 || field == 24 || (field >= 40 && field <= 43)) {
      MERIDIAN_RETURN_IF_ERROR(r.Expect(field, wt, kVarint));
      uint64_t value;
      MERIDIAN_RETURN_IF_ERROR(r.Varint(value));
      switch (field) {
        case 3: spec.model_type = static_cast<int64_t>(value); break;
        case 24: spec.treat_whitespace_as_suffix = value != 0; break;
        case 40: spec.unk_id = AsInt32(value); break;
        case 41: spec.bos_id = AsInt32(value); break;
        case 42: spec.eos_id = AsInt32(value); break;
        case 43: spec.pad_id = AsInt32(value); break;
        default: break;
      }
    } else {
      MERIDIAN_RETURN_IF_ERROR(r.Skip(wt));
    }
  }
  return Status::Ok();
}

Status ParseNormalizerSpec(std::string_view bytes, const std::string& path, NormalizerSpec& spec) {
  WireReader r(bytes, path);
  while (!r.done()) {
    uint32_t field, wt;
    MERIDIAN_RETURN_IF_ERROR(r.Tag(field, wt));
    if (field == 1 || field == 2) {
      MERIDIAN_RETURN_IF_ERROR(r.Expect(field, wt, kLengthDelimited));
      std::string_view value;
      MERIDIAN_RETURN_IF_ERROR(r.Bytes(value));
      if (field == 1) spec.name = std::string(value);
      if (field == 2) spec.has_charsmap = !value.empty();
    } else if (field >= 3 && field <= 5) {
      MERIDIAN_RETURN_IF_ERROR(r.Expect(field, wt, kVarint));
      uint64_t value;
      MERIDIAN_RETURN_IF_ERROR(r.Varint(value));
      if (field == 3) spec.add_dummy_prefix = value != 0;
      if (field == 4) spec.remove_extra_whitespaces = value != 0;
      if (field == 5) spec.escape_whitespaces = value != 0;
    } else {
      MERIDIAN_RETURN_IF_ERROR(r.Skip(wt));
    }
  }
  return Status::Ok();
}

int32_t IdOrNone(int32_t id, size_t n) {
  return id >= 0 && static_cast<size_t>(id) < n ? id : -1;
}

}  // namespace

Result<VocabData> ParseSentencePieceModel(std::string_view bytes, const std::string& name) {
  const std::string& path = name;
  VocabData v;
  v.kind = TokenizerKind::kSentencePiece;
  TrainerSpec trainer;
  NormalizerSpec normalizer;
  bool has_trainer = false;
  WireReader r(bytes, path);
  while (!r.done()) {
    uint32_t field, wt;
    MERIDIAN_RETURN_IF_ERROR(r.Tag(field, wt));
    if (field >= 1 && field <= 3) {
      MERIDIAN_RETURN_IF_ERROR(r.Expect(field, wt, kLengthDelimited));
      std::string_view message;
      MERIDIAN_RETURN_IF_ERROR(r.Bytes(message));
      if (field == 1) {
        if (v.tokens.size() >= (size_t{1} << 30)) return DataLoss(path + ": too many pieces");
        MERIDIAN_RETURN_IF_ERROR(ParsePiece(message, path, v));
      } else if (field == 2) {
        has_trainer = true;
        MERIDIAN_RETURN_IF_ERROR(ParseTrainerSpec(message, path, trainer));
      } else {
        MERIDIAN_RETURN_IF_ERROR(ParseNormalizerSpec(message, path, normalizer));
      }
    } else {
      MERIDIAN_RETURN_IF_ERROR(r.Skip(wt));
    }
  }
  if (v.tokens.empty()) return DataLoss(path + ": not a valid SentencePiece model: it has no pieces");
  if (!has_trainer) return DataLoss(path + ": not a valid SentencePiece model: trainer_spec is missing");
  if (trainer.model_type != 2) {
    const char* names[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
    const char* type_name =
        trainer.model_type >= 1 && trainer.model_type <= 4 ? names[trainer.model_type] : "unknown";
    return Unimplemented(path + ": SentencePiece model_type " + type_name +
                         " is not supported; only BPE models (spm_train --model_type=bpe) can be served");
  }
  if (normalizer.has_charsmap || (!normalizer.name.empty() && normalizer.name != "identity")) {
    return Unimplemented(path + ": SentencePiece normalization rule '" + normalizer.name +
                         "' is not supported; train with --normalization_rule_name=identity");
  }
  if (normalizer.remove_extra_whitespaces) {
    return Unimplemented(path +
                         ": SentencePiece models that remove extra whitespace are not supported; train "
                         "with --remove_extra_whitespaces=false");
  }
  if (!normalizer.escape_whitespaces || trainer.treat_whitespace_as_suffix) {
    return Unimplemented(path +
                         ": SentencePiece models without whitespace escaping, or with whitespace as a "
                         "suffix, are not supported");
  }
  const size_t n = v.tokens.size();
  v.add_space_prefix = normalizer.add_dummy_prefix;
  v.unk_id = IdOrNone(trainer.unk_id, n);
  v.bos_id = IdOrNone(trainer.bos_id, n);
  v.eos_id = IdOrNone(trainer.eos_id, n);
  v.pad_id = IdOrNone(trainer.pad_id, n);
  v.add_bos = v.bos_id >= 0;
  v.add_eos = false;
  tokenizer_internal::AddKnownEndOfGenerationTokens(v);
  return v;
}

Result<VocabData> VocabFromSentencePieceModel(const std::string& model_path) {
  try {
    MERIDIAN_ASSIGN_OR_RETURN(std::string bytes, tokenizer_internal::ReadWholeFile(model_path));
    MERIDIAN_ASSIGN_OR_RETURN(VocabData v, ParseSentencePieceModel(bytes, model_path));
    MERIDIAN_ASSIGN_OR_RETURN(tokenizer_internal::HfTokenizerConfig config,
                              tokenizer_internal::ReadHfConfigsBeside(model_path));
    tokenizer_internal::ApplyHfConfig(config, v);
    if (v.add_bos && v.bos_id < 0) v.add_bos = false;
    if (v.add_eos && v.eos_id < 0) v.add_eos = false;
    tokenizer_internal::AddKnownEndOfGenerationTokens(v);
    return v;
  } catch (const std::exception& e) {
    return Internal(model_path + ": " + e.what());
  }
}

}  // namespace meridian::engine
