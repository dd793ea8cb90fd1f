/* libfuzzer_entry.c - the libFuzzer entry point for one target, chosen with -DFUZZ_FN=... .
 * tools/fuzz.sh compiles this once per tests/fuzz/fuzz_<name>.c. */
#include <stddef.h>
#include <stdint.h>

int FUZZ_FN(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return FUZZ_FN(data, size); }
