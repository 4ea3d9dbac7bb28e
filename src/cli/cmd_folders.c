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
	mh_cli_help_end(out, true);
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

static void json_folder(json_t *o, size_t i, const void *ud, bool *failed)
{
	const mh_folder_entry *e = (const mh_folder_entry *)ud + i;
	char fid[24];
	snprintf(fid, sizeof(fid), "0x%016" PRIx64, e->folder_id);
	mh_cli_json_set(o, "path", mh_cli_json_utf8(e->path != NULL ? e->path : ""), failed);
	mh_cli_json_set(o, "display_name",
	                mh_cli_json_utf8(e->display_name != NULL ? e->display_name : ""), failed);
	mh_cli_json_set(o, "folder_id", json_string(fid), failed);
	mh_cli_json_set(o, "content_count", json_integer(e->content_count), failed);
	mh_cli_json_set(o, "child_count", json_integer(e->child_count), failed);
}

static const struct option folders_opts[] = {
    MH_CLI_STORE_CHOICE_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static int list_folders(mh_session *s, mh_store *st, const mh_cli_identity *id, void *ud)
{
	(void)ud;
	mh_folder_entry *entries = NULL;
	uint32_t count = 0;
	int rc;
	mh_status status = mh_store_folder_tree(st, &entries, &count);
	if (status != S_OK) {
		rc = mh_cli_session_fail(s, status);
	} else if (id->json) {
		rc = mh_cli_json_print_array(count, json_folder, entries);
	} else {
		mh_store_info info;
		mh_store_get_info(st, &info);
		rc = print_text(&info, entries, count);
	}
	MAPIFreeBuffer(entries);
	return rc;
}

static int run(int argc, char **argv)
{
	mh_cli_store_choice choice;
	memset(&choice, 0, sizeof(choice));
	const mh_cli_command cmd = {
	    "folders", "folders", mh_cli_folders_help, folders_opts, mh_cli_store_choice_on_option,
	    &choice};
	choice.cmd = &cmd;
	mh_cli_identity id;
	int first = 0;
	int rc = mh_cli_identity_parse(&id, &cmd, argc, argv, &first);
	if (rc == MH_CLI_CONTINUE && first < argc)
		rc = mh_cli_usage("folders", "folders", "unexpected argument '%s'", argv[first]);
	return mh_cli_session_main(&id, &cmd, rc, &choice, list_folders, NULL);
}

int mh_cli_folders_main(int argc, char **argv)
{
	return mh_cli_run_joined_archive(argc, argv, run);
}
