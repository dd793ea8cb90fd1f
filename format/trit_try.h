/*
 * trit_try.h - the one pair of error macros for functions that clean up at a single exit
 * (private: not installed).
 *
 * Both expect, in the calling function, `int rc`, `trit_err *err` and a label `out:` that
 * releases what the function holds and returns rc:
 *   FAIL(code, off, where, fmt, ...)  fill err (trit_err_set) and jump to out with rc = code;
 *                                     off is TRIT_NO_OFFSET and where NULL when they do not apply
 *   TRY(expr)                         evaluate expr, a call returning a TRIT_E_* code, and jump
 *                                     to out with rc set unless it is TRIT_OK
 */
#ifndef TRIT_TRY_H
#define TRIT_TRY_H

#include "trit.h"

#define FAIL(code, off, where, ...) \
    do { rc = trit_err_set(err, (code), (off), (where), __VA_ARGS__); goto out; } while (0)
#define TRY(expr) do { if ((rc = (expr)) != TRIT_OK) goto out; } while (0)

#endif
