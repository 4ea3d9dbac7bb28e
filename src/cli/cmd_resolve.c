/*
 * `mapihttp resolve NAME...`: NSPI ResolveNames (ANR) of each NAME as the identity, through the
 * AddressBook URL Autodiscover gives for the identity's own address; text blocks or JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "session/nspi_client.h"
#include "transport/mapi_ctx.h"

void mh_cli_resolve_help(FILE *out)
{
	fputs("Usage: mapihttp resolve [options] NAME...\n"
	      "\n"
	      "Resolve each NAME (a display name, alias, SMTP address or part of one) in\n"
	      "the address book as the --user identity, and print for each: the name asked,\n"
	      "its status (resolved, not found, ambiguous), display name, mailbox DN\n"
	      "(legacyExchangeDN), SMTP address and home MDB DN. The AddressBook URL comes\n"
	      "from Autodiscover of the identity's own address.\n"
	      "\n",
	      out);
	mh_cli_identity_help(out);
	fputs("\nExit status: 0 every name resolved, 1 error or a name not resolved,\n"
	      "2 usage error.\n",
	      out);
}

static const char *status_name(const mh_nspi_resolved *r)
{
	if (r->resolved)
		return "resolved";
	/* gromox answers MId 1 for no match too; the protocol's 1 is "ambiguous". */
	return r->mid == MH_NSPI_MID_AMBIGUOUS ? "ambiguous" : "not found";
}

/* ---- text ------------------------------------------------------------------------------- */

static int print_text(char **names, const mh_nspi_result *r)
{
	for (uint32_t i = 0; i < r->n_names; i++) {
		const mh_nspi_resolved *n = &r->names[i];
		mh_cli_fields f = MH_CLI_FIELDS_INIT;
		mh_cli_fields_add_text(&f, "name", names[i]);
		mh_cli_fields_add_text(&f, "status", status_name(n));
		if (n->resolved) {
			mh_cli_fields_add_text(&f, "display_name", n->display_name);
			mh_cli_fields_add_text(&f, "legacy_dn", n->email_address);
			mh_cli_fields_add_text(&f, "smtp_address", n->smtp_address);
			mh_cli_fields_add_text(&f, "home_mdb", n->home_mdb);
		}
		int rc = mh_cli_fields_emit(&f, i == 0);
		if (rc != MH_CLI_EXIT_OK)
			return rc;
	}
	return MH_CLI_EXIT_OK;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* Every documented key is present: absent values are null. */
static void json_add(json_t *obj, const char *key, const char *value, bool *failed)
{
	mh_cli_json_set(obj, key, mh_cli_json_text(value), failed);
}

/* The names asked and the answer, for json_name. */
typedef struct asked {
	char **names;
	const mh_nspi_result *r;
} asked;

static void json_name(json_t *o, size_t i, const void *ud, bool *failed)
{
	const asked *a = ud;
	const mh_nspi_resolved *n = &a->r->names[i];
	/* The name asked is argv text, not necessarily UTF-8: jansson checks it. */
	json_add(o, "name", a->names[i], failed);
	json_add(o, "status", status_name(n), failed);
	json_add(o, "display_name", n->resolved ? n->display_name : NULL, failed);
	json_add(o, "legacy_dn", n->resolved ? n->email_address : NULL, failed);
	json_add(o, "smtp_address", n->resolved ? n->smtp_address : NULL, failed);
	json_add(o, "home_mdb", n->resolved ? n->home_mdb : NULL, failed);
}

/* ---- the command ----------------------------------------------------------------------- */

/* An NSPI failure as the status line, the client's message as its detail. */
static int nspi_fail(const mh_nspi_client *c, mh_status st)
{
	return mh_cli_fail_detail(st, mh_nspi_client_errmsg(c));
}

/* The AddressBook URL of the identity's own mailbox, by Autodiscover; malloc()ed. */
static mh_status find_addressbook(const mh_cli_identity *id, mh_loop *loop, char **url)
{
	*url = NULL;
	mh_ad_discover_options o;
	mh_cli_identity_discover_options(id, &o);
	o.email = id->user;
	mh_ad_result r;
	mh_status st = mh_ad_discover(loop, &o, NULL, &r);
	if (st == S_OK) {
		const char *ab = mh_ad_urls_pick(&r.settings.addressbook);
		if (ab == NULL)
			st = mh_error_set(MAPI_E_NOT_FOUND, -1,
			                  "Autodiscover of %s gave no MAPI/HTTP AddressBook URL",
			                  id->user);
		else if ((*url = strdup(ab)) == NULL)
			st = mh_error_oom();
		else
			mh_cli_verbose(id, "AddressBook URL %s", ab);
	}
	mh_ad_result_free(&r);
	return st;
}

/* Names that did not resolve: the status line after the output. */
static int report_unresolved(char **names, const mh_nspi_result *r)
{
	uint32_t missing = 0, ambiguous = 0;
	const char *first = NULL;
	for (uint32_t i = 0; i < r->n_names; i++) {
		if (r->names[i].resolved)
			continue;
		if (first == NULL)
			first = names[i];
		if (r->names[i].mid == MH_NSPI_MID_AMBIGUOUS)
			ambiguous++;
		else
			missing++;
	}
	if (first == NULL)
		return MH_CLI_EXIT_OK;
	char *p = mh_cli_printable(first);
	mh_status st = missing > 0 ? MAPI_E_NOT_FOUND : MAPI_E_AMBIGUOUS_RECIP;
	mh_error_set(st, -1,
	             "%u of %u name%s not resolved (%u not found, %u ambiguous), first '%s'",
	             missing + ambiguous, r->n_names, r->n_names == 1 ? "" : "s", missing,
	             ambiguous, p != NULL ? p : "?");
	free(p);
	return mh_cli_fail(st);
}

int mh_cli_resolve_main(int argc, char **argv)
{
	static const mh_cli_command cmd = {"resolve", "resolve", mh_cli_resolve_help,
	                                   NULL,      NULL,      NULL};
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	if (rc == MH_CLI_CONTINUE && first >= argc)
		rc = mh_cli_usage("resolve", "resolve", "no name to resolve: give NAME...");
	for (int i = first; i < argc && rc == MH_CLI_CONTINUE; i++)
		if (argv[i][0] == '\0')
			rc = mh_cli_usage("resolve", "resolve", "an empty NAME cannot be resolved");
	if (rc == MH_CLI_CONTINUE)
		rc = mh_cli_identity_require_user(&id, &cmd);
	if (rc != MH_CLI_CONTINUE) {
		mh_cli_identity_free(&id);
		return rc;
	}
	char **names = argv + first;
	uint32_t n = (uint32_t)(argc - first);

	mh_transport *t = NULL;
	mh_loop *loop = NULL;
	mh_status st = mh_cli_identity_connect(&id, &t, &loop);
	if (st != S_OK) {
		mh_cli_identity_free(&id);
		return mh_cli_fail(st);
	}
	char *url = NULL;
	mh_nspi_client *c = NULL;
	st = find_addressbook(&id, loop, &url);
	if (st == S_OK) {
		mh_nspi_client_options o = MH_NSPI_CLIENT_OPTIONS_INIT;
		o.url = url;
		o.auth = mh_cli_identity_auth(&id);
		o.client_counter = 1;
		st = mh_mapi_random_guid(&o.client_guid); /* this run is one client instance */
		o.connect_timeout_ms = id.timeout_ms;
		o.total_timeout_ms = id.timeout_ms;
		/* One query and out: nothing to keep alive. */
		o.keep_alive = false;
		if (st == S_OK)
			st = mh_nspi_client_new(&c, loop, &o);
	}
	/* The client keeps its own copy of the credentials. */
	mh_cli_identity_free(&id);
	free(url);
	if (st != S_OK) {
		rc = mh_cli_fail(st);
		goto out;
	}

	st = mh_nspi_client_bind_sync(c, mh_loop_now(loop) + id.timeout_ms);
	if (st != S_OK) {
		rc = nspi_fail(c, st);
		goto out;
	}
	mh_arena arena;
	mh_arena_init(&arena, 0);
	mh_nspi_result r;
	st = mh_nspi_client_resolve_names_sync(c, (const char *const *)names, n, &arena, &r,
	                                       mh_loop_now(loop) + id.timeout_ms, NULL);
	if (st != S_OK)
		rc = nspi_fail(c, st);
	else if (r.n_names != n)
		rc = mh_cli_fail(mh_error_set(MAPI_E_CORRUPT_DATA, -1,
		                              "ResolveNames answered %u names for %u asked",
		                              r.n_names, n));
	else {
		if (id.json) {
			const asked a = {names, &r};
			rc = mh_cli_json_print_array(r.n_names, json_name, &a);
		} else {
			rc = print_text(names, &r);
		}
		if (rc == MH_CLI_EXIT_OK)
			rc = report_unresolved(names, &r);
	}
	/* A failed Unbind does not undo the answer: the server drops the context anyway. */
	if (mh_nspi_client_bound(c))
		(void)mh_nspi_client_unbind_sync(c, mh_loop_now(loop) + id.timeout_ms);
	mh_arena_free(&arena);
out:
	mh_nspi_client_free(c);
	mh_loop_free(loop);
	mh_transport_free(t);
	return rc;
}
