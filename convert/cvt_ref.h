/* cvt_ref.h - the source checkpoint as a runner weight source (cvt_ref.c). */
#ifndef CVT_REF_H
#define CVT_REF_H

#include "cvt.h"
#include "run_weights.h"

/* Open src_path (anything `trit convert` reads) as a run_weights provider that serves every
 * tensor encoded as `trit convert` with the same opts would store it. Release with
 * run_weights_close(). */
int cvt_ref_open(const char *src_path, const cvt_opts *opts, run_weights *out, trit_err *err);

#endif
