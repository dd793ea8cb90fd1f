/* cmd_run.c - `trit run`: the runner's command line (runner/run_cli.c, shared with the
 * standalone trit-run binary). */
#include "cli.h"
#include "run.h"

int cmd_run(int argc, char **argv)
{
    return run_cli_main("trit run", argc, argv);
}
