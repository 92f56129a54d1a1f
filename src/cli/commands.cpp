// The subcommand table.
#include "cli/commands.h"

#include "cli/cmd_make_model.h"

namespace meridian::cli {

int RunGenerate(int argc, char** argv);
int RunPerplexity(int argc, char** argv);
int RunBenchEngine(int argc, char** argv);
int RunQuantize(int argc, char** argv);
int RunServe(int argc, char** argv);

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"serve", "the OpenAI-compatible region server", RunServe},
      {"generate", "generate text from a prompt", RunGenerate},
      {"perplexity", "perplexity of a model on a text file", RunPerplexity},
      {"quantize", "convert a model to a GGUF file (q8_0, f16, bf16, f32)", RunQuantize},
      {"make-model", "write a deterministic random-weight llama model (tests, benchmarks)", RunMakeModel},
      {"bench-engine", "engine throughput against the memory bandwidth bound", RunBenchEngine},
  };
  return commands;
}

}  // namespace meridian::cli
