// meridian: one binary, thin subcommands that parse flags and call the libraries.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"

namespace {

void PrintUsage() {
  std::fprintf(stderr,
               "usage: meridian <command> [flags]\n"
               "commands:\n");
  for (const auto& c : meridian::cli::Commands()) {
    std::fprintf(stderr, "  %-14s %s\n", c.name, c.summary);
  }
  std::fprintf(stderr, "run 'meridian <command> --help' for its flags\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : meridian::cli::Commands()) {
    if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "meridian: unknown command '%s'\n", argv[1]);
  PrintUsage();
  return 2;
}
