/* test_unit_bomb.h - craft a "decompression bomb" container: one expert unit whose zstd frame
 * decodes to far more than its member tensors need (a zero gap inside the unit before its last
 * member), every checksum valid. spec/container.md 5.3 forbids it (a unit decodes to exactly
 * its packed members); readers built before that rule accepted it. */
#ifndef TEST_UNIT_BOMB_H
#define TEST_UNIT_BOMB_H

#include <stddef.h>
#include <stdint.h>

/* Rewrite unit u of the container b[0..len): its last member moves gap bytes further into the
 * decoded image (gap a multiple of the file's tensor_align), the unit is re-encoded as one zstd
 * frame (content size in the header) appended at the end of the file, its old bytes are zeroed,
 * and the unit record, the member's offset, file_size, the ZSTD feature bit and the index and
 * header checksums are fixed up. Member checksums stay valid. Returns the new file (free()) with
 * its length in *out_len, or NULL. The frame of a 256 MiB gap is about 6 KiB. */
uint8_t *tb_bomb(const uint8_t *b, size_t len, uint32_t u, uint64_t gap, size_t *out_len);

/* tb_bomb with flags: TB_NO_SIZE writes the frame without its content size; TB_SKIPPABLE
 * appends an empty skippable frame after it (gap 0 with either: a well-formed unit otherwise). */
enum { TB_NO_SIZE = 1, TB_SKIPPABLE = 2 };
uint8_t *tb_bomb_ex(const uint8_t *b, size_t len, uint32_t u, uint64_t gap, unsigned flags, size_t *out_len);

/* tb_bomb on the file at src, written to dst. 0 or -1. */
int tb_bomb_file(const char *src, const char *dst, uint32_t u, uint64_t gap);

#endif
