/*
 * The LZ77 compression of MS-OXCRPC extended buffers ("DIRECT2", the Plain
 * LZ77 format of MS-XCA) and the XorMagic obfuscation that may sit on top.
 */
#ifndef MAPIHTTP_LZ77_H
#define MAPIHTTP_LZ77_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/common.h"
#include "mapihttp/status.h"

MH_BEGIN_DECLS

/**
 * Decompresses a Plain LZ77 stream into dst.
 *
 * dst_cap is the expected output size (RPC_HEADER_EXT SizeActual): decoding
 * stops as soon as dst_cap bytes are out, so unused flag bits, padding flag
 * words and any bytes after that point are ignored. The stream also ends
 * when a flag word is needed and fewer than 4 input bytes remain, and at a
 * 1-bit (match) or 0-bit (literal) with no input left; the end marker of a
 * well-formed stream is such a 1-bit.
 *
 * A stream that ends before dst_cap bytes are produced is not an error
 * here: the call returns S_OK and *out_len < dst_cap. Whether a short
 * payload is acceptable is the caller's decision (an extended buffer whose
 * payload is shorter than its SizeActual is malformed).
 *
 * Never reads src beyond src_len nor writes dst beyond dst_cap. Bytes of dst
 * past *out_len are unspecified on return (the decoder may have used them as
 * scratch), as is all of dst on failure. src and dst must not overlap.
 *
 * @param dst      output buffer of dst_cap bytes (may be NULL when dst_cap is 0)
 * @param dst_cap  number of bytes to produce
 * @param src      compressed bytes (may be NULL when src_len is 0)
 * @param src_len  number of compressed bytes
 * @param out_len  receives the number of bytes produced (0 on failure)
 * @return S_OK;
 *         MAPI_E_CORRUPT_DATA when the stream is malformed: a match that
 *         reaches before the start of the output, a match that runs past
 *         dst_cap, a match word, length byte or 16/32-bit length cut off by
 *         the end of the input, or an extended length below its minimum (the
 *         message names the input byte offset);
 *         MAPI_E_INVALID_PARAMETER when out_len is NULL, or dst or src is
 *         NULL with a non-zero size.
 */
MH_EXTERN mh_status mh_lz77_decompress(uint8_t *dst, size_t dst_cap, const uint8_t *src,
                                       size_t src_len, size_t *out_len);

/**
 * Compresses src into a Plain LZ77 stream, end marker included (the current
 * flag word is filled with 1-bits; when it was full, one more all-ones word
 * follows). The result is valid for mh_lz77_decompress() with
 * dst_cap = src_len. The encoding is not unique; only its validity is
 * guaranteed. Every input length is accepted; inputs are expected to be at
 * most 64 KiB (MS-OXCRPC payloads), so the 32-bit length extension is never
 * written. An empty input gives the 4 bytes ff ff ff ff.
 *
 * To learn cheaply whether compressing pays off, pass dst_cap = src_len - 1:
 * the call gives up as soon as the output cannot fit.
 *
 * @param dst      output buffer of dst_cap bytes (may be NULL when dst_cap is 0)
 * @param dst_cap  room in dst
 * @param src      bytes to compress (may be NULL when src_len is 0)
 * @param src_len  number of bytes to compress
 * @param out_len  receives the compressed size (0 on failure)
 * @return S_OK;
 *         MAPI_E_TOO_BIG when the compressed stream does not fit in dst_cap
 *         bytes (dst then holds unspecified bytes);
 *         MAPI_E_INVALID_PARAMETER when out_len is NULL, or dst or src is
 *         NULL with a non-zero size.
 */
MH_EXTERN mh_status mh_lz77_compress(uint8_t *dst, size_t dst_cap, const uint8_t *src,
                                     size_t src_len, size_t *out_len);

/**
 * XorMagic (MS-OXCRPC): XORs every byte of buf with 0xA5, in place. Applying
 * it twice restores the input. Obfuscation only, not security.
 *
 * @param buf  bytes to transform (may be NULL when len is 0)
 * @param len  number of bytes
 */
MH_EXTERN void mh_xor_magic(uint8_t *buf, size_t len);

MH_END_DECLS

#endif
