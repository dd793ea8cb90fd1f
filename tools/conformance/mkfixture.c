/* mkfixture.c - the conformance tool's own GGUF -> .trit path (tests/test_export_build.c),
 * written through libtrit independently of `trit convert`, so `make conformance` checks the
 * exporter on its own as well as the real convert -> export round trip.
 *
 *   mkfixture SRC.gguf OUT.trit
 */
#include <stdio.h>

#include "test_export_build.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mkfixture SRC.gguf OUT.trit\n");
        return 2;
    }
    trit_err err;
    trit_err_clear(&err);
    if (txb_from_gguf(argv[1], argv[2], &err) != TRIT_OK) {
        char buf[768];
        fprintf(stderr, "mkfixture: %s\n", trit_err_format(&err, buf, sizeof buf));
        return 1;
    }
    return 0;
}
