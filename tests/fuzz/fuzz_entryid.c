/*
 * Round-trip fuzzer for the EntryID codec: whatever parses must encode, and
 * the encoding must parse back to the same kind and main fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mapihttp/alloc.h"
#include "mapihttp/entryid.h"
#include "mapihttp/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_str(const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		abort();
}

static void same_bin(const SBinary *a, const SBinary *b)
{
	if (a->cb != b->cb || (a->cb > 0 && memcmp(a->lpb, b->lpb, a->cb) != 0))
		abort();
}

static void same(const mh_entryid *a, const mh_entryid *b)
{
	if (a->kind != b->kind)
		abort();
	switch (a->kind) {
	case MH_ENTRYID_STORE: {
		const mh_store_entryid *x = &a->u.store, *y = &b->u.store;
		if (x->version != y->version || x->wrapped_type != y->wrapped_type ||
		    x->is_public != y->is_public || x->wrapped_flags != y->wrapped_flags ||
		    (y->version != 1 && !y->ext_size_matches))
			abort();
		same_str(x->server, y->server);
		same_str(x->mailbox_dn, y->mailbox_dn);
		same_str(x->smtp_address, y->smtp_address);
		same_str(x->server_dn, y->server_dn);
		same_str(x->server_fqdn, y->server_fqdn);
		break;
	}
	case MH_ENTRYID_FOLDER:
	case MH_ENTRYID_MESSAGE:
	case MH_ENTRYID_EPHEMERAL:
		/* fixed layouts: every field is in the bytes compared below */
		break;
	case MH_ENTRYID_AB:
		if (a->u.ab.version != b->u.ab.version ||
		    a->u.ab.display_type != b->u.ab.display_type)
			abort();
		same_str(a->u.ab.x500dn, b->u.ab.x500dn);
		break;
	case MH_ENTRYID_ONE_OFF:
		if (a->u.one_off.flags != b->u.one_off.flags)
			abort();
		same_str(a->u.one_off.display_name, b->u.one_off.display_name);
		same_str(a->u.one_off.address_type, b->u.one_off.address_type);
		same_str(a->u.one_off.email_address, b->u.one_off.email_address);
		break;
	case MH_ENTRYID_CONTACT:
		if (a->u.contact.type != b->u.contact.type ||
		    a->u.contact.index != b->u.contact.index ||
		    (a->u.contact.inner == NULL) != (b->u.contact.inner == NULL))
			abort();
		same_bin(&a->u.contact.inner_bytes, &b->u.contact.inner_bytes);
		break;
	case MH_ENTRYID_WAB:
		if (a->u.wab.type != b->u.wab.type ||
		    (a->u.wab.inner == NULL) != (b->u.wab.inner == NULL))
			abort();
		same_bin(&a->u.wab.inner_bytes, &b->u.wab.inner_bytes);
		break;
	case MH_ENTRYID_UNKNOWN:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mh_entryid *first = NULL, *second = NULL;
	uint32_t cb = 0, cb2 = 0;
	ENTRYID *eid = NULL, *eid2 = NULL;

	if (size > UINT32_MAX)
		return 0;
	if (mh_entryid_parse(&first, (uint32_t)size, data) != S_OK)
		return 0;
	if (first->cb != size)
		abort();
	if (mh_entryid_encode(&cb, &eid, first) != S_OK)
		abort();
	/* the encoding is the input less its trailing bytes, except for store trailers */
	if (first->kind != MH_ENTRYID_STORE &&
	    (cb != size - first->trailing.cb || memcmp(eid, data, cb) != 0))
		abort();
	if (mh_entryid_parse(&second, cb, eid) != S_OK)
		abort();
	same(first, second);
	if (second->trailing.cb != 0)
		abort();
	/* canonical form is a fixed point */
	if (mh_entryid_encode(&cb2, &eid2, second) != S_OK || cb2 != cb ||
	    memcmp(eid, eid2, cb) != 0)
		abort();
	MAPIFreeBuffer(eid2);
	MAPIFreeBuffer(second);
	MAPIFreeBuffer(eid);
	MAPIFreeBuffer(first);
	return 0;
}
