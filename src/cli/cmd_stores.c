/*
 * `mapihttp stores`: the mailboxes the identity can open (its own, its archive, delegated and
 * shared ones), each with the v3 store EntryID that opens it over MAPI/HTTP.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void mh_cli_stores_help(FILE *out)
{
	fputs("Usage: mapihttp stores [options]\n"
	      "\n"
	      "List the mailboxes the --user identity can open: its primary mailbox, its\n"
	      "archive and the delegated and shared mailboxes Autodiscover lists for it.\n"
	      "For each: kind (primary, archive, delegate, shared, other), display name,\n"
	      "SMTP address, mailbox DN, the owner's address when known, and the version 3\n"
	      "store EntryID that opens it (hex), as 'mapihttp folders --entryid' takes it.\n"
	      "\n",
	      out);
	mh_cli_help_end(out, false);
}

/* ---- text ------------------------------------------------------------------------------- */

static int print_text(const mh_mailbox_ref *refs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const mh_mailbox_ref *r = &refs[i];
		mh_cli_fields f = MH_CLI_FIELDS_INIT;
		char *hex = mh_cli_hex(r->entryid, r->cb_entryid, false);
		mh_cli_fields_add_text(&f, "kind", mh_mailbox_kind_str(r->kind));
		mh_cli_fields_add_text(&f, "display_name", r->display_name);
		mh_cli_fields_add_text(&f, "smtp_address", r->smtp_address);
		mh_cli_fields_add_text(&f, "mailbox_dn", r->mailbox_dn);
		mh_cli_fields_add_text(&f, "owner_smtp", r->owner_smtp);
		if (hex == NULL)
			f.failed = true;
		mh_cli_fields_add_text(&f, "entryid", hex);
		free(hex);
		int rc = mh_cli_fields_emit(&f, i == 0);
		if (rc != MH_CLI_EXIT_OK)
			return rc;
	}
	return MH_CLI_EXIT_OK;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* Every documented key is present: absent values are null. */
static void json_store(json_t *o, size_t i, const void *ud, bool *failed)
{
	const mh_mailbox_ref *r = (const mh_mailbox_ref *)ud + i;
	mh_cli_json_set(o, "kind", mh_cli_json_text(mh_mailbox_kind_str(r->kind)), failed);
	mh_cli_json_set(o, "display_name", mh_cli_json_text(r->display_name), failed);
	mh_cli_json_set(o, "smtp_address", mh_cli_json_text(r->smtp_address), failed);
	mh_cli_json_set(o, "mailbox_dn", mh_cli_json_text(r->mailbox_dn), failed);
	mh_cli_json_set(o, "owner_smtp", mh_cli_json_text(r->owner_smtp), failed);
	mh_cli_json_set(o, "entryid", mh_cli_json_hex(r->entryid, r->cb_entryid), failed);
}

/* ---- the command ----------------------------------------------------------------------- */

static int list_stores(mh_session *s, mh_store *st, const mh_cli_identity *id, void *ud)
{
	(void)st;
	(void)ud;
	mh_mailbox_ref *refs = NULL;
	uint32_t count = 0;
	mh_status status = mh_session_list_mailboxes(s, &refs, &count);
	int rc;
	if (status != S_OK)
		rc = mh_cli_session_fail(s, status);
	else
		rc = id->json ? mh_cli_json_print_array(count, json_store, refs)
		              : print_text(refs, count);
	MAPIFreeBuffer(refs);
	return rc;
}

int mh_cli_stores_main(int argc, char **argv)
{
	static const mh_cli_command cmd = {"stores", "stores", mh_cli_stores_help,
	                                   NULL,     NULL,     NULL};
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	if (rc == MH_CLI_CONTINUE && first < argc)
		rc = mh_cli_usage("stores", "stores", "unexpected argument '%s'", argv[first]);
	return mh_cli_session_main(&id, &cmd, rc, NULL, list_stores, NULL);
}
