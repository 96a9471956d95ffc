/* The subcommand table, expanded from CLI_COMMAND_MAP (cli.h). */
#include "cli.h"

static const cli_cmd commands[] = {
#define CLI_CMD_ROW(name, summary) {#name, summary, cmd_##name},
    CLI_COMMAND_MAP(CLI_CMD_ROW)
#undef CLI_CMD_ROW
};

const cli_cmd *cli_commands(int *n)
{
    *n = (int)FM_ARRAY_LEN(commands);
    return commands;
}
