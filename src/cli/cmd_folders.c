/*
 * `mapihttp folders`: the folder tree of one store (the identity's own, another mailbox, an
 * archive, or the store of a given EntryID) with the items in each folder.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void mh_cli_folders_help(FILE *out)
{
	fputs("Usage: mapihttp folders [options] [--mailbox EMAIL | --archive[=EMAIL] |\n"
	      "                        --entryid HEX [--upgrade-v1]]\n"
	      "\n"
	      "Open one store as the --user identity and print its folders under the IPM\n"
	      "subtree, depth first, indented by level, each with the number of items in it.\n"
	      "With --json: an array of {path, display_name, folder_id, content_count,\n"
	      "child_count}, folder_id a string \"0x\" and 16 hex digits.\n"
	      "\n",
	      out);
	mh_cli_store_choice_help(out);
	fputc('\n', out);
	mh_cli_identity_help(out);
	fputs("\nExit status: 0 success, 1 error, 2 usage error.\n", out);
}

/* The store's name for the heading: "Bob Baker <bob@contoso.test>" as far as known. */
static char *store_name(const mh_store_info *info)
{
	const char *name = info->display_name, *smtp = info->smtp_address;
	char *out;
	if (name != NULL && name[0] != '\0' && smtp != NULL && smtp[0] != '\0')
		out = mh_cli_format("%s <%s>", name, smtp);
	else if (name != NULL && name[0] != '\0')
		out = mh_cli_format("%s", name);
	else
		out = mh_cli_format("%s", smtp != NULL               ? smtp
		                          : info->mailbox_dn != NULL ? info->mailbox_dn
		                                                     : "(unnamed store)");
	if (out == NULL)
		return NULL;
	char *shown = mh_cli_printable(out);
	free(out);
	return shown;
}

static int print_text(const mh_store_info *info, const mh_folder_entry *e, uint32_t count)
{
	uint64_t items = 0;
	for (uint32_t i = 0; i < count; i++)
		items += e[i].content_count;
	char *name = store_name(info);
	if (name == NULL)
		return mh_cli_fail(mh_error_oom());
	printf("%s (%s): %" PRIu32 " folder%s, %" PRIu64 " item%s\n", name,
	       mh_mailbox_kind_str(info->kind), count, count == 1 ? "" : "s", items,
	       items == 1 ? "" : "s");
	free(name);
	mh_status st = mh_cli_print_folders(stdout, "", e, count);
	return st == S_OK ? MH_CLI_EXIT_OK : mh_cli_fail(st);
}

static int print_json(const mh_folder_entry *e, uint32_t count)
{
	bool failed = false;
	json_t *arr = json_array();
	if (arr == NULL)
		return mh_cli_fail(mh_error_oom());
	for (uint32_t i = 0; i < count && !failed; i++) {
		json_t *o = json_object();
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			failed = true;
			break;
		}
		char fid[24];
		snprintf(fid, sizeof(fid), "0x%016" PRIx64, e[i].folder_id);
		const struct {
			const char *key;
			json_t *v;
		} kv[] = {
		    {"path", mh_cli_json_utf8(e[i].path != NULL ? e[i].path : "")},
		    {"display_name",
		     mh_cli_json_utf8(e[i].display_name != NULL ? e[i].display_name : "")},
		    {"folder_id", json_string(fid)},
		    {"content_count", json_integer(e[i].content_count)},
		    {"child_count", json_integer(e[i].child_count)},
		};
		for (size_t k = 0; k < sizeof(kv) / sizeof(kv[0]); k++)
			if (kv[k].v == NULL || json_object_set_new(o, kv[k].key, kv[k].v) != 0)
				failed = true;
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

static int on_option(void *ud, int opt, const char *arg);

static const struct option folders_opts[] = {
    {"mailbox", required_argument, NULL, MH_CLI_OPT_MAILBOX},
    {"archive", optional_argument, NULL, MH_CLI_OPT_ARCHIVE},
    {"entryid", required_argument, NULL, MH_CLI_OPT_ENTRYID},
    {"upgrade-v1", no_argument, NULL, MH_CLI_OPT_UPGRADE_V1},
    {NULL, 0, NULL, 0},
};

typedef struct folders_args {
	const mh_cli_command *cmd;
	mh_cli_store_choice choice;
} folders_args;

static int on_option(void *ud, int opt, const char *arg)
{
	folders_args *a = ud;
	return mh_cli_store_choice_option(&a->choice, a->cmd, opt, arg);
}

static int run(int argc, char **argv)
{
	folders_args a;
	memset(&a, 0, sizeof(a));
	const mh_cli_command cmd = {"folders",    "folders", mh_cli_folders_help,
	                            folders_opts, on_option, &a};
	a.cmd = &cmd;
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	if (rc == MH_CLI_CONTINUE && first < argc)
		rc = mh_cli_usage("folders", "folders", "unexpected argument '%s'", argv[first]);
	if (rc == MH_CLI_CONTINUE)
		rc = mh_cli_store_choice_check(&a.choice, &cmd);
	if (rc == MH_CLI_CONTINUE && (id.user == NULL || id.user[0] == '\0'))
		rc = mh_cli_usage("folders", "folders",
		                  "no identity: give --user EMAIL or set MAPIHTTP_USER");
	if (rc != MH_CLI_CONTINUE) {
		mh_cli_identity_free(&id);
		return rc;
	}
	mh_session *s = NULL;
	mh_transport *t = NULL;
	rc = mh_cli_session_open(&id, &s, &t);
	/* The session keeps its own copy of the credentials. */
	mh_cli_identity_free(&id);
	if (rc != MH_CLI_CONTINUE)
		return rc;

	mh_store *st = NULL;
	rc = mh_cli_store_open(s, &id, &a.choice, &st);
	if (rc == MH_CLI_CONTINUE) {
		mh_folder_entry *entries = NULL;
		uint32_t count = 0;
		mh_status status = mh_store_folder_tree(st, &entries, &count);
		if (status != S_OK) {
			rc = mh_cli_session_fail(s, status);
		} else if (id.json) {
			rc = print_json(entries, count);
		} else {
			mh_store_info info;
			mh_store_get_info(st, &info);
			rc = print_text(&info, entries, count);
		}
		MAPIFreeBuffer(entries);
		mh_store_close(st);
	}
	mh_session_close(s);
	mh_transport_free(t);
	return rc;
}

int mh_cli_folders_main(int argc, char **argv)
{
	char **args = mh_cli_join_archive(&argc, argv);
	if (args == NULL)
		return mh_cli_fail(mh_error_oom());
	int rc = run(argc, args);
	mh_cli_argv_free(args);
	return rc;
}
