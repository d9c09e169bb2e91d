/* codec.h -- the integer and byte-string encodings TiKV puts on disk and on the wire.
 *
 * Basalt stores data byte-compatibly with TiKV (PROTOCOL.md §4.4), so the primitives here
 * follow TiKV's components/codec and tikv_util::codec exactly:
 *   - varint: LEB128 of a u64, as a protobuf varint (1..10 bytes);
 *   - u64/u32 big-endian: fixed width, so encoded numbers sort like the numbers;
 *   - compact bytes: varint(zigzag(len)) ‖ bytes (zigzag(len) = 2·len for len >= 0);
 *   - memcomparable bytes (MCE): 8-byte groups, each followed by a marker 0xFF − pad, so the
 *     bytewise order of encodings equals the bytewise order of the inputs and no encoding
 *     is a prefix of another.
 *
 * Encoders append to a bs_buf (which aborts on OOM, so they cannot fail). Decoders read
 * from a cursor (`bs_slice *in`): on success they advance it past what they consumed; on
 * failure they leave it untouched and return BS_ECORRUPT. Decoders never read outside
 * [in->ptr, in->ptr + in->len): the bytes come from disk or a peer and are input, not
 * invariants. These primitives return only a code; the record decoders built on them
 * (src/storage/) add a message. Thread affinity: none (pure functions). */
#ifndef BASALT_COMMON_CODEC_H
#define BASALT_COMMON_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define BS_VARINT_MAX_LEN 10 /* a u64 needs at most 10 LEB128 bytes */
#define BS_MCE_GROUP 8       /* data bytes per MCE group */
#define BS_MCE_MARKER 0xFF   /* marker of a full group */

/* ---- varint (LEB128 u64) ------------------------------------------------------------ */

/* Number of bytes bs_varint_append(v) writes (1..10). */
size_t bs_varint_len(uint64_t v);

/* Writes v as LEB128 into dst (which must have room for BS_VARINT_MAX_LEN bytes) and
 * returns the number of bytes written. */
size_t bs_varint_put(uint8_t *dst, uint64_t v);

/* Appends v as LEB128 to b. */
void bs_varint_append(bs_buf *b, uint64_t v);

/* Reads one varint from *in into *out and advances *in.
 * Returns BS_OK, or BS_ECORRUPT when the input ends inside the varint, the varint is longer
 * than 10 bytes, or its value exceeds 2^64−1 (in and out untouched). Non-minimal encodings
 * (e.g. 80 00) are accepted, as protobuf and TiKV accept them. */
int bs_varint_read(bs_slice *in, uint64_t *out);

/* ---- fixed-width big-endian ---------------------------------------------------------- */

void bs_u64_be_put(uint8_t dst[8], uint64_t v);
uint64_t bs_u64_be_get(const uint8_t src[8]);
void bs_u32_be_put(uint8_t dst[4], uint32_t v);
uint32_t bs_u32_be_get(const uint8_t src[4]);

void bs_u64_be_append(bs_buf *b, uint64_t v);
void bs_u32_be_append(bs_buf *b, uint32_t v);

/* Read 8 (4) bytes from *in and advance it. BS_OK, or BS_ECORRUPT when fewer remain. */
int bs_u64_be_read(bs_slice *in, uint64_t *out);
int bs_u32_be_read(bs_slice *in, uint32_t *out);

/* ---- compact bytes (varint(zigzag(len)) ‖ bytes) ------------------------------------ */

void bs_compact_bytes_append(bs_buf *b, bs_slice s);

/* Reads one compact-bytes field from *in and advances it. *out borrows from the input
 * bytes (valid as long as they are). Returns BS_OK, or BS_ECORRUPT when the length varint
 * is bad, encodes a negative length, or promises more bytes than remain. */
int bs_compact_bytes_read(bs_slice *in, bs_slice *out);

/* ---- memcomparable bytes (MCE) --------------------------------------------------------- */

/* Encoded size of an n-byte input: (n/8 + 1) × 9. */
size_t bs_mce_encoded_len(size_t n);

/* Appends MCE(s) to b. */
void bs_mce_append(bs_buf *b, bs_slice s);

/* Decodes one MCE field at the start of *in, appends the decoded bytes to *out and advances
 * *in past the field (bytes after it are left for the caller). Returns BS_OK, or
 * BS_ECORRUPT when the input ends inside a group, a marker is below 0xF7, or a padding
 * byte is not 0x00; then *in is untouched and *out is restored to its previous length.
 * A successful decode is canonical: re-encoding the output gives back the same bytes. */
int bs_mce_read(bs_slice *in, bs_buf *out);

/* Validates the MCE field at the start of in without decoding it and stores its encoded
 * length in *enc_len. Same error rules as bs_mce_read. */
int bs_mce_field_len(bs_slice in, size_t *enc_len);

#endif
