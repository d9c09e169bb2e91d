/* checksum.c -- CRC-64/XZ, the digest of RawChecksum's Crc64_Xor algorithm.
 *
 * TiKV hashes each live pair with crc64fast (CRC-64/XZ: the ECMA-182 polynomial, bit-
 * reflected, initial value and final xor all ones) and XORs the digests, so the client can
 * combine per-Region answers in any order. A byte-wise table is plenty for a checksum
 * command; the table is built once, thread-safely, on first use. */
#include <pthread.h>

#include "txn/txn_int.h"

#define CRC64_ECMA182_REFLECTED 0xC96C5795D7870F42ull

static uint64_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC64_ECMA182_REFLECTED : c >> 1;
        table[i] = c;
    }
}

uint64_t txn_crc64(uint64_t crc, bs_slice data)
{
    (void)pthread_once(&table_once, table_build); /* cannot fail with a valid once object */
    crc = ~crc;
    for (size_t i = 0; i < data.len; i++)
        crc = table[(crc ^ data.ptr[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
