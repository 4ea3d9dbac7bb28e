/*
 * Export macros, version numbers and the status type shared by every
 * public mapihttp header.
 */
#ifndef MAPIHTTP_COMMON_H
#define MAPIHTTP_COMMON_H

#include <stdint.h>

#if defined(MH_STATIC_DEFINE)
#define MH_EXTERN
#elif defined(__GNUC__)
#define MH_EXTERN __attribute__((visibility("default")))
#else
#define MH_EXTERN
#endif

#ifdef __cplusplus
#define MH_BEGIN_DECLS extern "C" {
#define MH_END_DECLS   }
#else
#define MH_BEGIN_DECLS
#define MH_END_DECLS
#endif

#define MH_VERSION_MAJOR  0
#define MH_VERSION_MINOR  1
#define MH_VERSION_PATCH  0
#define MH_VERSION_STRING "0.1.0"

/**
 * The result of every fallible mapihttp call: a MAPI HRESULT/SCODE.
 * 0 is S_OK; errors (MAPI_E_*) are negative; warnings (MAPI_W_*) are
 * positive. Values a server sends on the wire (Exchange "ec" codes such as
 * ecWrongServer, 0x478) are carried in the same type; see status.h.
 */
typedef int32_t mh_status;

#endif
