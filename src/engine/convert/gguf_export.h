// Export of a llama model to GGUF as llama.cpp lays it out (tensor names, metadata keys, tokenizer
// arrays), converting matrices to F32/F16/BF16/Q8_0 row by row while the file is written.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "engine/dtype/dtype.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/model/llama_config.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine {

struct GgufExportOptions {
  std::string name = "meridian-model";  //!< general.name
  int n_threads = 0;                    //!< threads converting rows (0: all hardware threads)
  //! Extra string metadata appended after the standard keys (provenance, generator spec).
  std::vector<std::pair<std::string, std::string>> extra_strings;
};

//! Writes `weights` as a llama GGUF. Norms are stored F32. Matrices (token_embd, the seven layer
//! projections, output) are converted to `matrix_dtype`, or keep their own dtype when it is
//! nullopt; a Q8_0 request for a matrix whose rows are not a multiple of 32 stores that matrix
//! F16 (what llama.cpp's quantizer does). Q8_0 of an F32 source is exactly cpu::QuantizeRowQ8_0
//! of each row; a Q8_0 source is copied, never requantized. output.weight is omitted when the
//! embeddings are tied (config.tied_embeddings, or output and token_embd share memory). llama3
//! RoPE scaling is written as rope_freqs.weight from config.rope_freq_factors, which must be
//! filled. Shapes are checked against `config`; the vocabulary must have config.n_vocab tokens.
Status WriteLlamaGguf(const LlamaConfig& config, const VocabData& vocab, const ModelWeights& weights,
                      std::optional<DType> matrix_dtype, const std::string& path,
                      const GgufExportOptions& options = {});

//! general.file_type (llama.cpp's llama_ftype) of a model whose matrices are mostly `dtype`:
//! 0 F32, 1 F16, 7 Q8_0, 32 BF16.
uint32_t GgufFileType(DType dtype);

//! The dtype a matrix of `cols` columns is stored in when `requested` is asked for.
DType MatrixStorageDType(DType requested, int64_t cols);

// ---- building blocks, shared with the random-model generator ----

//! One tensor of a llama GGUF, produced row by row.
struct GgufRowSource {
  std::string name;
  int64_t rows = 1;
  int64_t cols = 0;
  bool is_vector = false;     //!< a 1-D tensor [cols] (rows must be 1)
  DType dtype = DType::kF32;  //!< the stored dtype
  //! Writes rows [begin, end) in `dtype` to `out` (consecutive rows). Called from several threads
  //! at once for disjoint ranges.
  std::function<Status(int64_t begin, int64_t end, uint8_t* out)> write_rows;
};

//! Sets general.*, llama.* and tokenizer.* metadata for `config` and `vocab` (as llama.cpp's
//! converter names them). InvalidArgument if the vocabulary size differs from config.n_vocab.
Status SetLlamaGgufMetadata(const LlamaConfig& config, const VocabData& vocab, uint32_t file_type,
                            const std::string& name, GgufWriter& writer);

//! Adds a tensor whose bytes are produced by source.write_rows on `n_threads` threads when the
//! writer asks for them.
void AddGgufRowTensor(GgufWriter& writer, GgufRowSource source, int n_threads);

//! The rope_freqs.weight tensor for a config with llama3 scaling (nullopt otherwise);
//! InvalidArgument if the factors were not computed.
Result<std::optional<GgufRowSource>> RopeFreqsTensor(const LlamaConfig& config);

}  // namespace meridian::engine
