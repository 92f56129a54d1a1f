// `meridian make-model`: writes a deterministic random llama model (GGUF or Hugging Face
// directory) from a preset, for tests and benchmarks.
#pragma once

namespace meridian::cli {

//! argv[0] is the command name ("make-model").
int RunMakeModel(int argc, char** argv);

}  // namespace meridian::cli
