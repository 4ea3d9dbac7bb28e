/*
 * What the LZ77 codec shows its tests beyond the public mapihttp/lz77.h: the decoder for any
 * CPU, which mh_lz77_decompress does not pick on a CPU with BMI1/BMI2.
 */
#ifndef MH_CODEC_LZ77_INTERNAL_H
#define MH_CODEC_LZ77_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mapihttp/status.h"

/* As mh_lz77_decompress, always with the portable decoder. */
mh_status mh_lz77_decompress_portable(uint8_t *dst, size_t dst_cap, const uint8_t *src,
                                      size_t src_len, size_t *out_len);

#endif
