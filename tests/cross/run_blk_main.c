/* run_blk_main.c - the NEON block-kernel checks as a standalone aarch64 program, built by
 * tests/test_run_blk.c with aarch64-linux-gnu-gcc and run under qemu-aarch64: with -cpu max the
 * dot-product set ("neondot") is picked, with -cpu cortex-a53 (ARMv8.0) the baseline ("neon").
 * Prints "block set NAME: N checks, M failed" and exits 1 on any failure. */
#include "run_blk_check.h"

int main(void)
{
    const run_blk_kern *k = run_blk_kern_neon();
    if (!k) {
        printf("block set neon: not built (not aarch64)\n");
        return 1;
    }
    kc_state s;
    unsigned const bad = blk_check_all(run_blk_kern_ref(), k, &s);
    printf("block set %s: %u checks, %u failed%s%s\n", k->name, s.checks, bad, bad ? "; first: " : "", s.first);
    if (run_blk_kern_best() != k) {
        printf("run_blk_kern_best is not the NEON set\n");
        return 1;
    }
    return bad ? 1 : 0;
}
