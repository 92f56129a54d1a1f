// The subcommand table.
#include "cli/commands.h"

#include "cli/cmd_make_model.h"

namespace meridian::cli {

int RunGenerate(int argc, char** argv);
int RunPerplexity(int argc, char** argv);
int RunBenchEngine(int argc, char** argv);
int RunQuantize(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunGateway(int argc, char** argv);
int RunWan(int argc, char** argv);
int RunBench(int argc, char** argv);

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"serve", "the OpenAI-compatible region server", RunServe},
      {"gateway", "the global gateway: routes each request to the region with the lowest expected TTFT", RunGateway},
      {"generate", "generate text from a prompt", RunGenerate},
      {"perplexity", "perplexity of a model on a text file", RunPerplexity},
      {"quantize", "convert a model to a GGUF file (q8_0, f16, bf16, f32)", RunQuantize},
      {"make-model", "write a deterministic random-weight llama model (tests, benchmarks)", RunMakeModel},
      {"bench-engine", "engine throughput against the memory bandwidth bound", RunBenchEngine},
      {"bench", "load generator: TTFT, inter-token and end-to-end latency of an OpenAI endpoint", RunBench},
      {"wan", "WAN emulator: delaying TCP relays from a topology file", RunWan},
  };
  return commands;
}

}  // namespace meridian::cli
