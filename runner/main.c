/* main.c - `trit-run`, the standalone device binary: the runner alone, linked only against
 * libtrit (plus zstd, xxhash, libm, pthreads), with the same options as `trit run`. */
#include "run.h"

int main(int argc, char **argv)
{
    return run_cli_main("trit-run", argc, argv, NULL);
}
