// The subcommand table.
#include "cli/commands.h"

namespace meridian::cli {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {};
  return commands;
}

}  // namespace meridian::cli
