// (being written)
#include <vector>

#include "command_table.h"

namespace causalkv::command {

void RegisterBitmapCommands(std::vector<CommandSpec>*) {}

}  // namespace causalkv::command
