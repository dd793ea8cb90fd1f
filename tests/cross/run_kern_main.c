/* run_kern_main.c - the NEON kernel checks as a standalone aarch64 program, built by
 * tests/test_run_kern.c with aarch64-linux-gnu-gcc and run under qemu-aarch64 (-cpu max, so the
 * dot-product and i8mm sets are present too). Prints "kernel set NAME: N checks, M failed" per
 * set, "kernel set NAME: absent" when the CPU lacks an extension, and exits 1 on any failure. */
#include "run_kern_check.h"

int main(void)
{
    const run_kern *sets[3] = {run_kern_neon(), run_kern_neondot(), run_kern_neoni8mm()};
    static const char *const names[3] = {"neon", "neondot", "neoni8mm"};
    if (!sets[0]) {
        printf("kernel set neon: not built (not aarch64)\n");
        return 1;
    }
    unsigned failed = 0;
    for (int i = 0; i < 3; i++) {
        if (!sets[i]) {
            printf("kernel set %s: absent\n", names[i]);
            continue;
        }
        kc_state s;
        unsigned const bad = kern_check_all(run_kern_ref(), sets[i], &s);
        printf("kernel set %s: %u checks, %u failed%s%s\n", sets[i]->name, s.checks, bad, bad ? "; first: " : "", s.first);
        failed += bad;
    }
    if (run_kern_best() != (sets[2] ? sets[2] : sets[1] ? sets[1] : sets[0])) {
        printf("run_kern_best is not the widest set\n");
        return 1;
    }
    return failed ? 1 : 0;
}
