// The table of subcommands; each lives in its own cmd_<name>.cpp.
#pragma once

#include <vector>

namespace meridian::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  //!< argv[0] is the command name
};

const std::vector<Command>& Commands();

}  // namespace meridian::cli
