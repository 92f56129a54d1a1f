// Serializes a SentencePiece vocabulary as a tokenizer.model file (protobuf ModelProto, written
// by hand: pieces with scores and types, a BPE TrainerSpec with byte fallback and the special
// ids, a NormalizerSpec with the dummy-prefix setting). The sentencepiece library loads it.
#pragma once

#include <string>

#include "core/status.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine {

//! The bytes of a ModelProto for `vocab` (kind must be kSentencePiece; scores and token types
//! may be empty, meaning 0 and NORMAL).
Result<std::string> SerializeSentencePieceModel(const VocabData& vocab);

}  // namespace meridian::engine
