/*
 * Hub and spoke with the public API only: open a session, see why a v1 store EntryID of
 * another user's mailbox fails over MAPI/HTTP, make the v3 EntryID of that user's archive,
 * open it and print its folder tree.
 *
 * open_archive [--user ADDR] [--autodiscover-url URL] [--allow-http] [--cacert FILE]
 *              [--password-file FILE] TARGET
 *
 * The identity: --user or MAPIHTTP_USER. The secret never comes from the command line: the
 * first line of --password-file, else MAPIHTTP_PASSWORD (Basic), else MAPIHTTP_TOKEN (Bearer).
 * --autodiscover-url (or MAPIHTTP_AUTODISCOVER_URL) skips the candidate search; --allow-http
 * lets credentials go to an http:// one (a test server only).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mapihttp.h>

static void usage(void)
{
	fprintf(stderr,
	        "usage: open_archive [--user ADDR] [--autodiscover-url URL] [--allow-http]\n"
	        "                    [--cacert FILE] [--password-file FILE] TARGET\n"
	        "the secret: --password-file, MAPIHTTP_PASSWORD or MAPIHTTP_TOKEN\n");
}

/* The first line of path, without its line end; NULL when unreadable. */
static char *read_secret(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL)
		return NULL;
	char line[1024];
	char *out = NULL;
	if (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		size_t n = strlen(line) + 1;
		out = malloc(n);
		if (out != NULL)
			memcpy(out, line, n);
	}
	memset(line, 0, sizeof(line));
	fclose(fp);
	return out;
}

static void print_entryid(const char *what, uint32_t cb, const ENTRYID *eid)
{
	const uint8_t *p = (const uint8_t *)eid;
	printf("%s (%u bytes): ", what, (unsigned)cb);
	for (uint32_t i = 0; i < cb && i < 24; i++)
		printf("%02X", p[i]);
	printf("%s\n", cb > 24 ? "..." : "");
}

/* Makes bob's v1 EntryID (what CreateStoreEntryID gives) and shows why it does not open. */
static void show_v1_failure(mh_session *s, const char *target)
{
	const char *names[1] = {target};
	mh_address_entry *e = NULL;
	mh_status st = mh_session_resolve(s, names, 1, &e);
	if (st != S_OK || !e[0].resolved || e[0].mdb_dn == NULL) {
		printf("v1: %s did not resolve (%s)\n", target, mh_status_str(st));
		MAPIFreeBuffer(e);
		return;
	}
	uint32_t cb = 0;
	ENTRYID *v1 = NULL;
	st = mh_create_store_entryid(e[0].mdb_dn, e[0].mailbox_dn,
	                             OPENSTORE_HOME_LOGON | OPENSTORE_TAKE_OWNERSHIP, &cb, &v1);
	MAPIFreeBuffer(e);
	if (st != S_OK) {
		printf("v1: CreateStoreEntryID failed: %s\n", mh_status_str(st));
		return;
	}
	print_entryid("v1 store EntryID", cb, v1);
	mh_store *store = NULL;
	st = mh_session_open_msg_store(&store, s, cb, v1, 0);
	printf("OpenMsgStore(v1): %s\n", mh_status_str(st));
	if (st != S_OK)
		printf("  %s\n", mh_session_errmsg(s));
	mh_store_close(store);
	MAPIFreeBuffer(v1);
}

static int print_tree(mh_session *s, mh_store *store)
{
	mh_folder_entry *entries = NULL;
	uint32_t n = 0;
	mh_status st = mh_store_folder_tree(store, &entries, &n);
	if (st != S_OK) {
		fprintf(stderr, "open_archive: folder tree: %s: %s\n", mh_status_str(st),
		        mh_session_errmsg(s));
		return 1;
	}
	printf("folders: %u\n", (unsigned)n);
	for (uint32_t i = 0; i < n; i++) {
		const mh_folder_entry *f = &entries[i];
		printf("  %*s%s (%u messages)\n", (int)(2 * (f->depth > 0 ? f->depth - 1 : 0)), "",
		       f->display_name != NULL ? f->display_name : "", (unsigned)f->content_count);
	}
	MAPIFreeBuffer(entries);
	return 0;
}

int main(int argc, char **argv)
{
	const char *user = getenv("MAPIHTTP_USER");
	const char *ad_url = getenv("MAPIHTTP_AUTODISCOVER_URL");
	const char *cacert = NULL;
	const char *password_file = NULL;
	const char *target = NULL;
	bool allow_http = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--user") == 0 && v != NULL) {
			user = v;
			i++;
		} else if (strcmp(a, "--autodiscover-url") == 0 && v != NULL) {
			ad_url = v;
			i++;
		} else if (strcmp(a, "--cacert") == 0 && v != NULL) {
			cacert = v;
			i++;
		} else if (strcmp(a, "--password-file") == 0 && v != NULL) {
			password_file = v;
			i++;
		} else if (strcmp(a, "--allow-http") == 0) {
			allow_http = true;
		} else if (a[0] != '-' && target == NULL) {
			target = a;
		} else {
			usage();
			return 2;
		}
	}
	if (user == NULL || target == NULL) {
		usage();
		return 2;
	}

	mh_session_options opts = MH_SESSION_OPTIONS_INIT;
	opts.user = user;
	opts.autodiscover_url = ad_url;
	opts.allow_http = allow_http;
	opts.cacert = cacert;
	char *secret = NULL;
	if (password_file != NULL) {
		secret = read_secret(password_file);
		if (secret == NULL) {
			fprintf(stderr, "open_archive: cannot read %s\n", password_file);
			return 2;
		}
		opts.auth.scheme = MH_AUTH_BASIC;
		opts.auth.secret = secret;
	} else if (getenv("MAPIHTTP_PASSWORD") != NULL) {
		opts.auth.scheme = MH_AUTH_BASIC;
		opts.auth.secret = getenv("MAPIHTTP_PASSWORD");
	} else if (getenv("MAPIHTTP_TOKEN") != NULL) {
		opts.auth.scheme = MH_AUTH_BEARER;
		opts.auth.secret = getenv("MAPIHTTP_TOKEN");
	} else {
		usage();
		return 2;
	}

	/* 1. The session: Autodiscover, Connect, RopLogon to the identity's own mailbox. */
	mh_session *s = NULL;
	mh_status st = mh_session_open(&s, &opts);
	if (secret != NULL) {
		/* The session keeps its own copy. */
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	if (st != S_OK) {
		const mh_error *e = mh_error_last();
		fprintf(stderr, "open_archive: %s: %s\n", mh_status_str(st),
		        e != NULL ? e->message : "");
		return 1;
	}
	mh_session_info info;
	mh_session_get_info(s, &info);
	printf("session: %s <%s>\n", info.display_name != NULL ? info.display_name : "",
	       info.smtp_address);

	/* 2. What a program that kept a v1 EntryID meets over MAPI/HTTP. */
	show_v1_failure(s, target);

	/* 3. The v3 EntryID of the target's archive, from Autodiscover's AlternativeMailbox. */
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	st = mh_session_mailbox_entryid(s, target, true, &cb, &eid);
	if (st != S_OK) {
		fprintf(stderr, "open_archive: archive of %s: %s: %s\n", target, mh_status_str(st),
		        mh_session_errmsg(s));
		mh_session_close(s);
		return 1;
	}
	print_entryid("archive v3 store EntryID", cb, eid);

	/* 4. OpenMsgStore: Autodiscover of the archive's address, Connect to its endpoint. */
	mh_store *archive = NULL;
	st = mh_session_open_msg_store(&archive, s, cb, eid, 0);
	MAPIFreeBuffer(eid);
	if (st != S_OK) {
		fprintf(stderr, "open_archive: %s: %s\n", mh_status_str(st), mh_session_errmsg(s));
		mh_session_close(s);
		return 1;
	}
	mh_store_info si;
	mh_store_get_info(archive, &si);
	printf("opened: %s (%s%s) <%s>\n", si.display_name != NULL ? si.display_name : "",
	       mh_mailbox_kind_str(si.kind), si.owner ? ", owner" : "", si.smtp_address);

	/* 5. Its folders. */
	int rc = print_tree(s, archive);
	mh_store_close(archive);
	printf("requests: %llu\n", (unsigned long long)mh_session_request_count(s));
	mh_session_close(s);
	return rc;
}
