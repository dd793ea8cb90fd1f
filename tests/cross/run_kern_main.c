/* run_kern_main.c - the NEON kernel checks as a standalone aarch64 program, built by
 * tests/test_run_kern.c with aarch64-linux-gnu-gcc and run under qemu-aarch64. Prints
 * "kernel set neon: N checks, M failed" and exits 1 on any failure. */
#include "run_kern_check.h"

int main(void)
{
    const run_kern *k = run_kern_neon();
    if (!k) {
        printf("kernel set neon: not built (not aarch64)\n");
        return 1;
    }
    kc_state s;
    unsigned const bad = kern_check_all(run_kern_ref(), k, &s);
    printf("kernel set %s: %u checks, %u failed%s%s\n", k->name, s.checks, bad, bad ? "; first: " : "", s.first);
    return bad ? 1 : 0;
}
