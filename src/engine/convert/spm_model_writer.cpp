// Protobuf encoding of sentencepiece.ModelProto (field numbers from sentencepiece_model.proto).
#include "engine/convert/spm_model_writer.h"

#include <cstring>

namespace meridian::engine {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed32 = 5, kLengthDelimited = 2 };

class ProtoWriter {
 public:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Tag(uint32_t field, WireType type) { Varint((static_cast<uint64_t>(field) << 3) | type); }
  //! int32 and enums: negative values are sign-extended to 10 bytes, as protobuf requires.
  void Int32(uint32_t field, int32_t v) {
    Tag(field, kVarint);
    Varint(static_cast<uint64_t>(static_cast<int64_t>(v)));
  }
  void Bool(uint32_t field, bool v) {
    Tag(field, kVarint);
    Varint(v ? 1 : 0);
  }
  void Float(uint32_t field, float v) {
    Tag(field, kFixed32);
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  void Bytes(uint32_t field, const std::string& s) {
    Tag(field, kLengthDelimited);
    Varint(s.size());
    out_ += s;
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// sentencepiece_model.proto field numbers.
namespace piece {
constexpr uint32_t kPiece = 1, kScore = 2, kType = 3;
}
namespace trainer {
constexpr uint32_t kModelType = 3, kVocabSize = 4, kByteFallback = 35, kUnkId = 40, kBosId = 41, kEosId = 42,
                   kPadId = 43, kUnkPiece = 45, kBosPiece = 46, kEosPiece = 47, kPadPiece = 48;
constexpr int32_t kModelTypeBpe = 2;
}  // namespace trainer
namespace normalizer {
constexpr uint32_t kName = 1, kAddDummyPrefix = 3, kRemoveExtraWhitespaces = 4, kEscapeWhitespaces = 5;
}
namespace model {
constexpr uint32_t kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3;
}

}  // namespace

Result<std::string> SerializeSentencePieceModel(const VocabData& v) {
  if (v.kind != TokenizerKind::kSentencePiece) {
    return InvalidArgument("tokenizer.model holds SentencePiece vocabularies only");
  }
  const size_t n = v.tokens.size();
  if ((!v.scores.empty() && v.scores.size() != n) || (!v.token_types.empty() && v.token_types.size() != n)) {
    return InvalidArgument("vocabulary scores/token types do not match the token count " + std::to_string(n));
  }
  auto piece_or = [&v, n](int32_t id, const char* fallback) -> std::string {
    return id >= 0 && static_cast<size_t>(id) < n ? v.tokens[static_cast<size_t>(id)] : std::string(fallback);
  };
  bool has_byte = false;
  ProtoWriter m;
  for (size_t i = 0; i < n; ++i) {
    ProtoWriter p;
    p.Bytes(piece::kPiece, v.tokens[i]);
    p.Float(piece::kScore, v.scores.empty() ? 0.0f : v.scores[i]);
    const int32_t type = v.token_types.empty() ? static_cast<int32_t>(TokenType::kNormal) : v.token_types[i];
    has_byte = has_byte || type == static_cast<int32_t>(TokenType::kByte);
    p.Int32(piece::kType, type);
    m.Bytes(model::kPieces, p.str());
  }
  ProtoWriter t;
  t.Int32(trainer::kModelType, trainer::kModelTypeBpe);
  t.Int32(trainer::kVocabSize, static_cast<int32_t>(n));
  t.Bool(trainer::kByteFallback, has_byte);
  t.Int32(trainer::kUnkId, v.unk_id);
  t.Int32(trainer::kBosId, v.bos_id);
  t.Int32(trainer::kEosId, v.eos_id);
  t.Int32(trainer::kPadId, v.pad_id);
  t.Bytes(trainer::kUnkPiece, piece_or(v.unk_id, "<unk>"));
  t.Bytes(trainer::kBosPiece, piece_or(v.bos_id, "<s>"));
  t.Bytes(trainer::kEosPiece, piece_or(v.eos_id, "</s>"));
  t.Bytes(trainer::kPadPiece, piece_or(v.pad_id, "<pad>"));
  m.Bytes(model::kTrainerSpec, t.str());
  ProtoWriter norm;
  norm.Bytes(normalizer::kName, "identity");
  norm.Bool(normalizer::kAddDummyPrefix, v.add_space_prefix);
  norm.Bool(normalizer::kRemoveExtraWhitespaces, false);
  norm.Bool(normalizer::kEscapeWhitespaces, true);
  m.Bytes(model::kNormalizerSpec, norm.str());
  return m.str();
}

}  // namespace meridian::engine
