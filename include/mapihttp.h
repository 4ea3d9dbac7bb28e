/*
 * mapihttp: open many Exchange mailboxes over MAPI/HTTP from one identity.
 * The umbrella header; each module also has its own under mapihttp/.
 */
#ifndef MAPIHTTP_H
#define MAPIHTTP_H

#include "mapihttp/common.h"
#include "mapihttp/status.h"
#include "mapihttp/mapidefs.h"
#include "mapihttp/proptags.h"
#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "mapihttp/lz77.h"
#include "mapihttp/session.h"
#include "mapihttp/scan.h"

#endif
