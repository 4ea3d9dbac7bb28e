/*
 * `mapihttp discover [EMAIL]`: Autodiscovers an address as the identity and prints its
 * settings, MAPI/HTTP endpoints and alternative mailboxes as aligned text or JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void mh_cli_discover_help(FILE *out)
{
	fputs("Usage: mapihttp discover [options] [EMAIL]\n"
	      "\n"
	      "Autodiscover EMAIL (default: the --user address) as the identity and print\n"
	      "its settings: display name, LegacyDN, SMTP address, the MAPI/HTTP MailStore\n"
	      "and AddressBook URLs, Server, ServerDN and MdbDN when present, and the\n"
	      "alternative mailboxes (archive, delegate, ...) the answer lists.\n"
	      "\n",
	      out);
	mh_cli_help_end(out, false);
}

/* ---- text ------------------------------------------------------------------------------- */

static const char *smtp_of(const mh_ad_result *r)
{
	return r->settings.smtp_address != NULL ? r->settings.smtp_address : r->address;
}

static int print_text(const mh_ad_result *r)
{
	const mh_ad_pox *s = &r->settings;
	mh_cli_fields f = MH_CLI_FIELDS_INIT;
	mh_cli_fields_add_text(&f, "display_name", s->display_name);
	mh_cli_fields_add_text(&f, "legacy_dn", s->legacy_dn);
	mh_cli_fields_add_text(&f, "smtp_address", smtp_of(r));
	mh_cli_fields_add_text(&f, "mailstore_url", mh_ad_urls_pick(&s->mailstore));
	mh_cli_fields_add_text(&f, "addressbook_url", mh_ad_urls_pick(&s->addressbook));
	mh_cli_fields_add_text(&f, "server", s->server);
	mh_cli_fields_add_text(&f, "server_dn", s->server_dn);
	mh_cli_fields_add_text(&f, "mdb_dn", s->mdb_dn);
	mh_cli_fields_add_text(&f, "pox_url", r->pox_url);
	mh_cli_fields_add(&f, "hops", "%u", r->hops);
	mh_cli_fields_add(&f, "alternatives", "%zu", s->n_alternatives);
	/* One block per alternative, aligned on its own, so long names do not push the rest. */
	mh_cli_fields *alts = calloc(s->n_alternatives + 1, sizeof(*alts));
	bool failed = f.failed || alts == NULL;
	for (size_t i = 0; i < s->n_alternatives && !failed; i++) {
		const mh_ad_alternative *a = &s->alternatives[i];
		const struct {
			const char *key;
			const char *value;
		} keys[] = {
		    {"type", a->type},
		    {"display_name", a->display_name},
		    {"smtp_address", a->smtp_address},
		    {"owner_smtp_address", a->owner_smtp_address},
		    {"legacy_dn", a->legacy_dn},
		    {"server", a->server},
		};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			char name[64];
			snprintf(name, sizeof(name), "alternatives[%zu].%s", i, keys[k].key);
			mh_cli_fields_add_text(&alts[i], name, keys[k].value);
		}
		failed = alts[i].failed;
	}
	int rc = MH_CLI_EXIT_OK;
	if (failed) {
		rc = mh_cli_fail(mh_error_oom());
	} else {
		mh_cli_fields_print(&f, stdout);
		for (size_t i = 0; i < s->n_alternatives; i++) {
			fputc('\n', stdout);
			mh_cli_fields_print(&alts[i], stdout);
		}
	}
	mh_cli_fields_free(&f);
	for (size_t i = 0; alts != NULL && i < s->n_alternatives; i++)
		mh_cli_fields_free(&alts[i]);
	free(alts);
	return rc;
}

/* ---- JSON ------------------------------------------------------------------------------- */

/* Every documented key is present: absent values are null. */
static void json_add(json_t *obj, const char *key, const char *value, bool *failed)
{
	mh_cli_json_set(obj, key, mh_cli_json_text(value), failed);
}

static int print_json(const mh_ad_result *r)
{
	const mh_ad_pox *s = &r->settings;
	bool failed = false;
	json_t *obj = json_object();
	json_t *alts = json_array();
	if (obj == NULL || alts == NULL) {
		json_decref(obj);
		json_decref(alts);
		return mh_cli_fail(mh_error_oom());
	}
	json_add(obj, "display_name", s->display_name, &failed);
	json_add(obj, "legacy_dn", s->legacy_dn, &failed);
	json_add(obj, "smtp_address", smtp_of(r), &failed);
	json_add(obj, "mailstore_url", mh_ad_urls_pick(&s->mailstore), &failed);
	json_add(obj, "addressbook_url", mh_ad_urls_pick(&s->addressbook), &failed);
	json_add(obj, "server", s->server, &failed);
	json_add(obj, "server_dn", s->server_dn, &failed);
	json_add(obj, "mdb_dn", s->mdb_dn, &failed);
	json_add(obj, "pox_url", r->pox_url, &failed);
	mh_cli_json_set(obj, "hops", json_integer((json_int_t)r->hops), &failed);
	for (size_t i = 0; i < s->n_alternatives && !failed; i++) {
		const mh_ad_alternative *a = &s->alternatives[i];
		json_t *o = mh_cli_json_append_object(alts);
		if (o == NULL) {
			failed = true;
			break;
		}
		json_add(o, "type", a->type, &failed);
		json_add(o, "display_name", a->display_name, &failed);
		json_add(o, "smtp_address", a->smtp_address, &failed);
		json_add(o, "owner_smtp_address", a->owner_smtp_address, &failed);
		json_add(o, "legacy_dn", a->legacy_dn, &failed);
		json_add(o, "server", a->server, &failed);
	}
	mh_cli_json_set(obj, "alternatives", alts, &failed);
	return mh_cli_json_print(obj, failed);
}

/* ---- the command ----------------------------------------------------------------------- */

int mh_cli_discover_main(int argc, char **argv)
{
	static const mh_cli_command cmd = {"discover", "discover", mh_cli_discover_help,
	                                   NULL,       NULL,       NULL};
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	if (rc == MH_CLI_CONTINUE && argc - first > 1)
		rc = mh_cli_usage("discover", "discover", "unexpected argument '%s'",
		                  argv[first + 1]);
	const char *email = first < argc ? argv[first] : id.user;
	if (rc == MH_CLI_CONTINUE && (email == NULL || email[0] == '\0'))
		rc = mh_cli_usage("discover", "discover",
		                  "no address to discover: give EMAIL or --user EMAIL");
	if (rc != MH_CLI_CONTINUE) {
		mh_cli_identity_free(&id);
		return rc;
	}

	mh_transport *t = NULL;
	mh_loop *loop = NULL;
	mh_status st = mh_cli_identity_connect(&id, &t, &loop);
	if (st != S_OK) {
		mh_cli_identity_free(&id);
		return mh_cli_fail(st);
	}
	mh_cli_verbose(&id, "Autodiscover of %s as %s (%s)%s%s", email,
	               id.user != NULL ? id.user : "(no user)", mh_cli_auth_name(id.scheme),
	               id.autodiscover_url != NULL ? " at " : "",
	               id.autodiscover_url != NULL ? id.autodiscover_url : "");

	mh_ad_discover_options o;
	mh_cli_identity_discover_options(&id, &o);
	o.email = email;
	mh_ad_result r;
	st = mh_ad_discover(loop, &o, NULL, &r);
	/* The discovery was the only use of the secret. */
	mh_cli_identity_free(&id);
	if (st != S_OK)
		rc = mh_cli_fail(st);
	else {
		mh_cli_verbose(&id, "settings from %s after %u redirect%s", r.pox_url, r.hops,
		               r.hops == 1 ? "" : "s");
		rc = id.json ? print_json(&r) : print_text(&r);
	}
	mh_ad_result_free(&r);
	mh_loop_free(loop);
	mh_transport_free(t);
	return rc;
}
