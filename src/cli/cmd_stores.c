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
	mh_cli_identity_help(out);
	fputs("\nExit status: 0 success, 1 error, 2 usage error.\n", out);
}

/* ---- text ------------------------------------------------------------------------------- */

/* Network text is shown with control characters escaped; absent values are left out. */
static void text_add(mh_cli_fields *f, const char *name, const char *value)
{
	if (value == NULL)
		return;
	char *p = mh_cli_printable(value);
	if (p == NULL) {
		f->failed = true;
		return;
	}
	mh_cli_fields_add(f, name, "%s", p[0] != '\0' ? p : "\"\"");
	free(p);
}

static int print_text(const mh_mailbox_ref *refs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const mh_mailbox_ref *r = &refs[i];
		mh_cli_fields f = MH_CLI_FIELDS_INIT;
		char *hex = mh_cli_hex(r->entryid, r->cb_entryid, false);
		text_add(&f, "kind", mh_mailbox_kind_str(r->kind));
		text_add(&f, "display_name", r->display_name);
		text_add(&f, "smtp_address", r->smtp_address);
		text_add(&f, "mailbox_dn", r->mailbox_dn);
		text_add(&f, "owner_smtp", r->owner_smtp);
		bool oom = hex == NULL;
		text_add(&f, "entryid", hex);
		free(hex);
		if (f.failed || oom) {
			mh_cli_fields_free(&f);
			return mh_cli_fail(mh_error_oom());
		}
		if (i > 0)
			fputc('\n', stdout);
		mh_cli_fields_print(&f, stdout);
		mh_cli_fields_free(&f);
	}
	return MH_CLI_EXIT_OK;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* Every documented key is present: absent values are null. */
static void json_add(json_t *obj, const char *key, json_t *v, bool *failed)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		*failed = true;
}

static json_t *json_text(const char *s)
{
	return s != NULL ? mh_cli_json_utf8(s) : json_null();
}

static int print_json(const mh_mailbox_ref *refs, uint32_t count)
{
	bool failed = false;
	json_t *arr = json_array();
	if (arr == NULL)
		return mh_cli_fail(mh_error_oom());
	for (uint32_t i = 0; i < count && !failed; i++) {
		const mh_mailbox_ref *r = &refs[i];
		json_t *o = json_object();
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			failed = true;
			break;
		}
		json_add(o, "kind", json_text(mh_mailbox_kind_str(r->kind)), &failed);
		json_add(o, "display_name", json_text(r->display_name), &failed);
		json_add(o, "smtp_address", json_text(r->smtp_address), &failed);
		json_add(o, "mailbox_dn", json_text(r->mailbox_dn), &failed);
		json_add(o, "owner_smtp", json_text(r->owner_smtp), &failed);
		json_add(o, "entryid", mh_cli_json_hex(r->entryid, r->cb_entryid), &failed);
	}
	char *text = failed ? NULL : json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(arr);
	if (text == NULL)
		return mh_cli_fail(mh_error_oom());
	fputs(text, stdout);
	fputc('\n', stdout);
	free(text);
	return MH_CLI_EXIT_OK;
}

/* ---- the command ----------------------------------------------------------------------- */

int mh_cli_stores_main(int argc, char **argv)
{
	static const mh_cli_command cmd = {"stores", "stores", mh_cli_stores_help,
	                                   NULL,     NULL,     NULL};
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	if (rc != MH_CLI_CONTINUE) {
		mh_cli_identity_free(&id);
		return rc;
	}
	if (first < argc) {
		mh_cli_identity_free(&id);
		return mh_cli_usage("stores", "stores", "unexpected argument '%s'", argv[first]);
	}
	if (id.user == NULL || id.user[0] == '\0') {
		mh_cli_identity_free(&id);
		return mh_cli_usage("stores", "stores",
		                    "no identity: give --user EMAIL or set MAPIHTTP_USER");
	}
	mh_session *s = NULL;
	mh_transport *t = NULL;
	rc = mh_cli_session_open(&id, &s, &t);
	/* The session keeps its own copy of the credentials. */
	mh_cli_identity_free(&id);
	if (rc != MH_CLI_CONTINUE)
		return rc;

	mh_mailbox_ref *refs = NULL;
	uint32_t count = 0;
	mh_status st = mh_session_list_mailboxes(s, &refs, &count);
	if (st != S_OK)
		rc = mh_cli_session_fail(s, st);
	else
		rc = id.json ? print_json(refs, count) : print_text(refs, count);
	MAPIFreeBuffer(refs);
	mh_session_close(s);
	mh_transport_free(t);
	return rc;
}
