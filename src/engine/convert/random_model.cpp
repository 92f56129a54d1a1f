// Random llama models: presets, the synthetic vocabulary, the per-row weight generator and the
// GGUF writer (the Hugging Face writer is random_model_hf.cpp).
#include "engine/convert/random_model.h"

#include <cmath>
#include <set>

#include "engine/convert/gguf_export.h"
#include "engine/convert/row_convert.h"

namespace meridian::engine {
namespace {

constexpr int32_t kFirstPiece = 3 + 256;  // <unk>, <s>, </s>, then the byte tokens
constexpr int32_t kMinVocab = kFirstPiece + 1;

LlamaConfig Preset(int32_t dim, int32_t layers, int32_t heads, int32_t kv_heads, int32_t ffn, int32_t vocab,
                   int32_t ctx) {
  LlamaConfig c;
  c.dim = dim;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = dim / heads;
  c.ffn_dim = ffn;
  c.n_vocab = vocab;
  c.context_length = ctx;
  c.rms_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  return c;
}

// splitmix64 (Steele, Lea, Flood 2014): the finalizer mixes seeds, the sequence draws values.
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ULL;
  return h;
}

//! Mean and standard deviation of a tensor's values.
std::pair<double, double> Distribution(const RandomModelSpec& spec, const LlamaTensorSpec& t) {
  const double dim = spec.config.dim;
  switch (t.role) {
    // Untied, an embedding of std 1 keeps the current token visible next to the layer outputs
    // (each adds O(1) per element). Tied, the same embedding would score itself at ~sqrt(dim)
    // standard deviations above every other token and greedy decoding would repeat one token,
    // so it is scaled down to 0.25/sqrt(dim) and the final norm up (x8) to keep the logit std ~2.
    case LlamaTensorRole::kTokenEmbedding:
      return {0.0, spec.config.tied_embeddings ? 0.25 / std::sqrt(dim) : 1.0};
    case LlamaTensorRole::kOutput: return {0.0, 2.0 / std::sqrt(dim)};
    case LlamaTensorRole::kAttnNorm:
    case LlamaTensorRole::kFfnNorm: return {1.0, 0.1};
    case LlamaTensorRole::kOutputNorm: {
      const double mean = spec.config.tied_embeddings ? 8.0 : 1.0;
      return {mean, 0.1 * mean};
    }
    default: return {0.0, 1.0 / std::sqrt(static_cast<double>(t.cols))};
  }
}

const char* const kWords[] = {
    "the",     "of",     "and",    "to",      "in",        "is",    "that",  "it",    "for",    "was",
    "on",      "with",   "as",     "be",      "at",        "by",    "this",  "have",  "from",   "or",
    "one",     "had",    "not",    "but",     "what",      "all",   "were",  "when",  "we",     "there",
    "can",     "an",     "your",   "which",   "their",     "said",  "if",    "do",    "will",   "each",
    "about",   "how",    "up",     "out",     "them",      "then",  "she",   "many",  "some",   "so",
    "these",   "would",  "other",  "into",    "has",       "more",  "her",   "two",   "like",   "him",
    "see",     "time",   "could",  "no",      "make",      "than",  "first", "been",  "its",    "who",
    "now",     "people", "my",     "made",    "over",      "did",   "down",  "only",  "way",    "find",
    "use",     "may",    "water",  "long",    "little",    "very",  "after", "words", "called", "just",
    "where",   "most",   "know",   "get",     "through",   "back",  "much",  "go",    "good",   "new",
    "write",   "our",    "me",     "man",     "too",       "any",   "day",   "same",  "right",  "look",
    "think",   "also",   "around", "another", "came",      "come",  "work",  "three", "word",   "must",
    "because", "does",   "part",   "even",    "place",     "well",  "such",  "here",  "take",   "why",
    "things",  "help",   "put",    "years",   "different", "away",  "again", "off",   "went",   "old",
    "number",  "great",  "tell",   "hello",   "world",     "model", "token", "story", "once",   "upon",
    "happy",   "small",  "house",
};

}  // namespace

const std::vector<std::string>& RandomModelPresetNames() {
  static const std::vector<std::string> names = {"tiny", "tiny-gqa", "tinyllama", "llama2-7b"};
  return names;
}

Result<RandomModelSpec> RandomModelPreset(std::string_view name) {
  RandomModelSpec spec;
  spec.preset = std::string(name);
  if (name == "tiny") {
    spec.config = Preset(64, 2, 4, 4, 176, 512, 256);
  } else if (name == "tiny-gqa") {
    spec.config = Preset(64, 2, 4, 2, 176, 512, 256);
  } else if (name == "tinyllama") {
    spec.config = Preset(2048, 22, 32, 4, 5632, 32000, 2048);
  } else if (name == "llama2-7b") {
    spec.config = Preset(4096, 32, 32, 32, 11008, 32000, 4096);
  } else {
    std::string known;
    for (const std::string& n : RandomModelPresetNames()) known += (known.empty() ? "" : ", ") + n;
    return NotFound("unknown model preset '" + std::string(name) + "' (known: " + known + ")");
  }
  return spec;
}

Status CheckRandomModelSpec(const RandomModelSpec& spec, bool hf) {
  const LlamaConfig& c = spec.config;
  auto bad = [](const std::string& m) { return InvalidArgument("random model: " + m); };
  if (c.n_vocab < kMinVocab || c.n_vocab > (1 << 20)) {
    return bad("vocabulary size " + std::to_string(c.n_vocab) + " must be in [" + std::to_string(kMinVocab) +
               ", 1048576] (3 special tokens, 256 byte tokens, pieces)");
  }
  if (c.dim <= 0 || c.dim > (1 << 16)) return bad("dim " + std::to_string(c.dim) + " must be in [1, 65536]");
  if (c.n_layers <= 0 || c.n_layers > 1024) return bad("layer count must be in [1, 1024]");
  if (c.n_heads <= 0 || c.n_heads > 1024 || c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0) {
    return bad("KV heads " + std::to_string(c.n_kv_heads) + " must divide heads " +
               std::to_string(c.n_heads));
  }
  if (c.head_dim <= 0 || c.head_dim % 2 != 0 || c.head_dim > 1024) {
    return bad("head dimension " + std::to_string(c.head_dim) + " must be even and at most 1024");
  }
  if (c.ffn_dim <= 0 || c.ffn_dim > (1 << 18)) return bad("ffn size must be in [1, 262144]");
  if (c.context_length <= 0 || c.context_length > (1 << 22))
    return bad("context length must be in [1, 4194304]");
  if (c.rope_scaling == RopeScalingType::kLlama3 &&
      c.rope_freq_factors.size() != static_cast<size_t>(c.head_dim / 2)) {
    return bad("llama3 RoPE scaling needs rope_freq_factors (LlamaConfig::ComputeLlama3FreqFactors)");
  }
  if (hf && spec.dtype == DType::kQ8_0) {
    return bad("the Hugging Face format stores f32, f16 or bf16 (q8_0 is GGUF only)");
  }
  return Status::Ok();
}

const std::string& Llama2ChatTemplate() {
  static const std::string tmpl =
      "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
      "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
      "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
      "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif "
      "%}"
      "{% if loop.index0 == 0 and system_message != false %}"
      "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
      "{% else %}{% set content = message['content'] %}{% endif %}"
      "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
      "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
      "{% endfor %}";
  return tmpl;
}

VocabData RandomModelVocab(int32_t n_vocab) {
  VocabData v;
  v.kind = TokenizerKind::kSentencePiece;
  auto add = [&v](std::string piece, float score, TokenType type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.token_types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0.0f, TokenType::kUnknown);
  add("<s>", 0.0f, TokenType::kControl);
  add("</s>", 0.0f, TokenType::kControl);
  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b)
    add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0.0f, TokenType::kByte);

  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space
  std::set<std::string> seen;
  int32_t rank = 0;
  auto piece = [&](const std::string& p) {
    if (static_cast<int32_t>(v.tokens.size()) >= n_vocab || !seen.insert(p).second) return;
    add(p, -static_cast<float>(rank++), TokenType::kNormal);
  };
  std::string letters, chars;
  for (char ch = 'a'; ch <= 'z'; ++ch) letters += ch;
  for (char ch = 'A'; ch <= 'Z'; ++ch) letters += ch;
  chars = letters + "0123456789.,!?'\"-:;()";
  piece(space);
  for (char ch : chars) piece(std::string(1, ch));
  for (char ch : letters) piece(space + ch);
  for (const char* w : kWords) {
    std::string word = w;
    for (size_t len = 1; len <= word.size(); ++len) piece(space + word.substr(0, len));
  }
  // Lowercase n-grams by length, each also with the space prefix: "ab", "▁ab", ... Every piece
  // is a lower one plus a character, so BPE merges can build it.
  for (size_t len = 2; static_cast<int32_t>(v.tokens.size()) < n_vocab; ++len) {
    std::vector<size_t> digits(len, 0);
    while (static_cast<int32_t>(v.tokens.size()) < n_vocab) {
      std::string s;
      for (size_t d : digits) s += static_cast<char>('a' + d);
      piece(s);
      piece(space + s);
      size_t i = len;
      while (i > 0 && ++digits[i - 1] == 26) digits[--i] = 0;
      if (i == 0) break;
    }
  }
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  v.pad_id = -1;
  v.add_bos = true;
  v.add_eos = false;
  v.add_space_prefix = true;
  v.chat_template = Llama2ChatTemplate();
  return v;
}

void RandomModelRow(const RandomModelSpec& spec, const LlamaTensorSpec& t, int64_t gguf_row, float* out) {
  const auto [mean, stddev] = Distribution(spec, t);
  // Irwin-Hall: the sum of four 16-bit uniforms, centred, has std 65536/sqrt(3) and a bell shape
  // bounded at +-3.46 std. One multiply (and for norms one add) keeps it exact across machines.
  const auto scale = static_cast<float>(stddev * std::sqrt(3.0) / 65536.0);
  const auto mean_f = static_cast<float>(mean);
  uint64_t state = Mix(Mix(spec.seed ^ 0x6d65726964696e00ULL) ^ Fnv1a(t.gguf_name));
  state = Mix(state + static_cast<uint64_t>(gguf_row) * 0xd1b54a32d192ed03ULL);
  for (int64_t i = 0; i < t.cols; ++i) {
    state += 0x9e3779b97f4a7c15ULL;
    const uint64_t x = Mix(state);
    const auto sum =
        static_cast<int32_t>((x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48));
    if (mean == 0.0) {
      out[i] = static_cast<float>(sum - 131070) * scale;
    } else {
      // Stored first so the add cannot be fused with the multiply on targets with FMA.
      volatile float noise = static_cast<float>(sum - 131070) * scale;
      out[i] = mean_f + noise;
    }
  }
  if (spec.dtype == DType::kF16) {
    for (int64_t i = 0; i < t.cols; ++i) out[i] = Fp16ToFp32(Fp32ToFp16(out[i]));
  } else if (spec.dtype == DType::kBF16) {
    for (int64_t i = 0; i < t.cols; ++i) out[i] = Bf16ToFp32(Fp32ToBf16(out[i]));
  }
}

Status WriteRandomGguf(const RandomModelSpec& spec, const std::string& path) {
  MERIDIAN_RETURN_IF_ERROR(CheckRandomModelSpec(spec, /*hf=*/false));
  const LlamaConfig& c = spec.config;
  const VocabData vocab = RandomModelVocab(c.n_vocab);
  GgufWriter writer;
  MERIDIAN_RETURN_IF_ERROR(
      SetLlamaGgufMetadata(c, vocab, GgufFileType(spec.dtype), "meridian-random-" + spec.preset, writer));
  writer.SetString("meridian.random.preset", spec.preset);
  writer.SetString("meridian.random.seed", std::to_string(spec.seed));
  writer.SetString("meridian.random.dtype", DTypeName(spec.dtype));
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<GgufRowSource> freqs, RopeFreqsTensor(c));
  if (freqs) AddGgufRowTensor(writer, std::move(*freqs), 1);
  for (const LlamaTensorSpec& t : LlamaTensors(c)) {
    GgufRowSource src;
    src.name = t.gguf_name;
    src.rows = t.rows;
    src.cols = t.cols;
    src.is_vector = t.is_norm();
    src.dtype = t.is_norm() ? DType::kF32 : MatrixStorageDType(spec.dtype, t.cols);
    src.write_rows = [&spec, t, dtype = src.dtype](int64_t begin, int64_t end, uint8_t* out) {
      const uint64_t row_bytes = *DTypeRowBytes(dtype, t.cols);
      std::vector<float> row(static_cast<size_t>(t.cols));
      for (int64_t r = begin; r < end; ++r) {
        RandomModelRow(spec, t, r, row.data());
        convert::EncodeRow(row.data(), t.cols, dtype, out + static_cast<uint64_t>(r - begin) * row_bytes);
      }
      return Status::Ok();
    };
    AddGgufRowTensor(writer, std::move(src), spec.n_threads);
  }
  return writer.Write(path);
}

}  // namespace meridian::engine
