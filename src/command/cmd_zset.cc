// (being written)
#include <vector>

#include "command_table.h"

namespace causalkv::command {

void RegisterZsetCommands(std::vector<CommandSpec>*) {}

}  // namespace causalkv::command
