/* cmd_run.c - `trit run`: the runner's command line (runner/run_cli.c, shared with the
 * standalone trit-run binary), plus what only this binary can offer: --reference SRC, the
 * source checkpoint read through the converter as a second weight source. */
#include "cli.h"
#include "cvt_ref.h"
#include "run.h"

static int open_reference(const char *src, run_weights *out, trit_err *err)
{
    return cvt_ref_open(src, NULL, out, err);
}

int cmd_run(int argc, char **argv)
{
    static const run_cli_hooks hooks = {open_reference};
    return run_cli_main("trit run", argc, argv, &hooks);
}
