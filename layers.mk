# layers.mk - the layering of trit, the one table the build and `make layers` read.
#
# LAYER_m lists the folders whose headers the sources of module m may include (its own first).
# A folder may appear only below the module that lists it: format/ is the ground floor (the
# device library, nothing above it), the CLI the roof. ONLY_m_d narrows what module m may take
# from folder d to the headers named. Production code never includes tests/.
# ARCHITECTURE.md draws the same table as a picture and says where new code goes.
MODULES := source runner convert calibrate export inspect verify pack cli

LAYER_format    := format
LAYER_source    := source format
LAYER_runner    := runner format
LAYER_convert   := convert source runner format
LAYER_calibrate := calibrate convert source runner format
LAYER_export    := export format
LAYER_inspect   := inspect convert source format
LAYER_verify    := verify inspect source format
LAYER_pack      := pack format
LAYER_cli       := cli verify pack inspect export calibrate convert runner source format

# convert serves `trit run --reference` through the runner's provider interface, nothing more.
ONLY_convert_runner := run_weights.h
# The modules above may use libtrit's public headers and the private, uninstalled ones it shares
# with them: trit_sys.h (file I/O, atomic writes) and trit_try.h (the FAIL/TRY error macros).
# trit_int.h (on-disk layouts) is for format/ itself.
ONLY_source_format    := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_runner_format    := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_convert_format   := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_calibrate_format := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_export_format    := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_inspect_format   := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_verify_format    := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_pack_format      := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
ONLY_cli_format       := trit.h trit_cursor.h trit_limits.h trit_safemath.h trit_sys.h trit_try.h trit_model.h trit_pool.h
