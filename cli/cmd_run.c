/* cmd_run.c - `trit run`: the runner's command line (runner/run_cli.c, shared with the
 * standalone trit-run binary), plus what only this binary can offer: --reference SRC, the
 * source checkpoint read through the converter as a second weight source. */
#include "cli.h"
#include "cvt_ref.h"
#include "run.h"

/* The source with the convert options the container shows it was written with, where they change
 * the numbers: an int8 output.weight is the --output-head q8 copy (spec 6.2), which the source
 * never has, so the reference builds it too. */
static int open_reference(const char *src, const run_weights *container, run_weights *out, trit_err *err)
{
    cvt_opts o = {0};
    const trit_reader *r = run_weights_trit_reader(container);
    int64_t const i = r ? trit_reader_find_tensor(r, "output.weight") : -1;
    if (i >= 0 && trit_reader_tensor(r, (uint32_t)i)->type == TRIT_TYPE_I8) o.output_head_q8 = 1;
    return cvt_ref_open(src, &o, out, err);
}

int cmd_run(int argc, char **argv)
{
    static const run_cli_hooks hooks = {open_reference};
    return run_cli_main("trit run", argc, argv, &hooks);
}
