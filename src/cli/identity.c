/*
 * The identity and connection options every network subcommand shares: parsing, reading the
 * password or token from a file or the environment (never argv), and the transport they ask for.
 */
#define _DEFAULT_SOURCE /* explicit_bzero, unsetenv, strcasecmp */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/hex.h"

/* A password or token is one line; a JSON Web Token is a few KiB. */
#define MAX_SECRET_FILE (64u * 1024u)
#define MAX_TIMEOUT_S   86400u

enum {
	OPT_USER = 1000,
	OPT_PASSWORD_FILE,
	OPT_TOKEN_FILE,
	OPT_AUTH,
	OPT_AD_URL,
	OPT_CACERT,
	OPT_INSECURE,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_VERBOSE_LONG
};

static const struct option shared_opts[] = {
    {"user", required_argument, NULL, OPT_USER},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"autodiscover-url", required_argument, NULL, OPT_AD_URL},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"verbose", no_argument, NULL, OPT_VERBOSE_LONG},
    {"help", no_argument, NULL, 'h'},
};

#define N_SHARED (sizeof(shared_opts) / sizeof(shared_opts[0]))

void mh_cli_identity_help(FILE *out)
{
	fputs("Identity and connection (see mapihttp(1)):\n"
	      "  --user EMAIL            the identity (else MAPIHTTP_USER)\n"
	      "  --password-file FILE    the password: FILE's first line (else\n"
	      "                          MAPIHTTP_PASSWORD)\n"
	      "  --token-file FILE       an OAuth access token: FILE's first line (else\n"
	      "                          MAPIHTTP_TOKEN)\n"
	      "  --auth SCHEME           basic, bearer, ntlm or negotiate; default: bearer\n"
	      "                          with a token, else basic\n"
	      "  --autodiscover-url URL  POST the Autodiscover request to URL instead of\n"
	      "                          searching (http:// only here, with a warning)\n"
	      "  --cacert FILE           trust the CA certificates in FILE (PEM)\n"
	      "  --insecure              do not verify TLS certificates (warns)\n"
	      "  --timeout SECONDS       give up a network operation after SECONDS\n"
	      "                          (default 60)\n"
	      "  --json                  print JSON instead of text\n"
	      "  -v, --verbose           progress on stderr: each URL tried, its answer\n"
	      "  -h, --help              show this help and exit\n"
	      "\n"
	      "No option takes a password or token: give it in a file or in the\n"
	      "environment, never on the command line.\n",
	      out);
}

/* ---- secrets ------------------------------------------------------------------------------ */

static void secret_drop(char **s, size_t *len)
{
	if (*s != NULL) {
		explicit_bzero(*s, *len);
		free(*s);
	}
	*s = NULL;
	*len = 0;
}

void mh_cli_identity_free(mh_cli_identity *id)
{
	if (id != NULL)
		secret_drop(&id->secret, &id->secret_len);
}

/*
 * Takes a variable out of the environment, wiping its bytes so that the value does not stay in
 * this process's memory (or /proc/<pid>/environ) for the whole run. *out gets a malloc()ed
 * copy when want is true and the value is not empty. False on OOM.
 */
static bool take_env(const char *name, bool want, char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	char *v = getenv(name);
	if (v == NULL)
		return true;
	size_t len = strlen(v);
	bool ok = true;
	if (want && len > 0) {
		*out = malloc(len + 1);
		if (*out == NULL)
			ok = false;
		else {
			memcpy(*out, v, len + 1);
			*out_len = len;
		}
	}
	explicit_bzero(v, len);
	unsetenv(name);
	return ok;
}

static bool env_set(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0';
}

/*
 * The first line of path (CR LF or LF stripped) into a new buffer. read(2), not stdio, so
 * that no library buffer keeps a copy. On failure a usage message is printed.
 */
static int read_secret_file(const mh_cli_command *cmd, const char *opt, const char *path,
                            char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mh_cli_usage(cmd->name, cmd->help_name, "cannot open %s '%s': %s", opt, path,
		                    strerror(errno));
	struct stat st;
	int fst = fstat(fd, &st);
	if (fst != 0 || S_ISDIR(st.st_mode)) {
		int e = fst != 0 ? errno : EISDIR;
		close(fd);
		return mh_cli_usage(cmd->name, cmd->help_name, "cannot read %s '%s': %s", opt, path,
		                    strerror(e));
	}
	/*
	 * Warn, not refuse: secrets mounted by container platforms are often 0644, and a pipe
	 * (--password-file <(pass show ...)) has no such mode to judge.
	 */
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		fprintf(stderr,
		        "mapihttp: warning: %s '%s' is readable by group or others (chmod 600 "
		        "it)\n",
		        opt, path);

	char *buf = malloc(MAX_SECRET_FILE + 1);
	if (buf == NULL) {
		close(fd);
		return mh_cli_fail(mh_error_oom());
	}
	size_t len = 0;
	bool have_line = false;
	int err = 0;
	while (len < MAX_SECRET_FILE && !have_line) {
		ssize_t n = read(fd, buf + len, MAX_SECRET_FILE - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (n == 0)
			break;
		have_line = memchr(buf + len, '\n', (size_t)n) != NULL;
		len += (size_t)n;
	}
	close(fd);
	int rc = MH_CLI_CONTINUE;
	char *nl = memchr(buf, '\n', len);
	if (err != 0) {
		rc = mh_cli_usage(cmd->name, cmd->help_name, "cannot read %s '%s': %s", opt, path,
		                  strerror(err));
	} else if (nl == NULL && len == MAX_SECRET_FILE) {
		rc = mh_cli_usage(cmd->name, cmd->help_name,
		                  "%s '%s': the first line is longer than %u bytes", opt, path,
		                  MAX_SECRET_FILE);
	} else {
		size_t line = nl != NULL ? (size_t)(nl - buf) : len;
		if (line > 0 && buf[line - 1] == '\r')
			line--;
		if (line == 0)
			rc = mh_cli_usage(cmd->name, cmd->help_name,
			                  "%s '%s': the first line is empty", opt, path);
		else if (memchr(buf, '\0', line) != NULL)
			rc = mh_cli_usage(cmd->name, cmd->help_name,
			                  "%s '%s': the first line holds a NUL byte", opt, path);
		else if ((*out = malloc(line + 1)) == NULL)
			rc = mh_cli_fail(mh_error_oom());
		else {
			memcpy(*out, buf, line);
			(*out)[line] = '\0';
			*out_len = line;
		}
	}
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

/* ---- parsing -------------------------------------------------------------------------------- */

static bool parse_scheme(const char *s, mh_transport_auth_scheme *out)
{
	static const struct {
		const char *name;
		mh_transport_auth_scheme scheme;
	} names[] = {
	    {"basic", MH_AUTH_BASIC},
	    {"bearer", MH_AUTH_BEARER},
	    {"ntlm", MH_AUTH_NTLM},
	    {"negotiate", MH_AUTH_NEGOTIATE},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].scheme;
			return true;
		}
	return false;
}

const char *mh_cli_auth_name(mh_transport_auth_scheme s)
{
	switch (s) {
	case MH_AUTH_BASIC:
		return "basic";
	case MH_AUTH_BEARER:
		return "bearer";
	case MH_AUTH_NTLM:
		return "ntlm";
	case MH_AUTH_NEGOTIATE:
		return "negotiate";
	default:
		return "none";
	}
}

static bool parse_seconds(const char *s, uint32_t *ms)
{
	if (*s == '\0')
		return false;
	uint32_t v = 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint32_t)(*s - '0');
		if (v > MAX_TIMEOUT_S)
			return false;
	}
	if (v == 0)
		return false;
	*ms = v * 1000u;
	return true;
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Is word ("--name" or "--name=value") exactly the option name, not an abbreviation of it? */
static bool spelled_in_full(const char *word, const char *name)
{
	size_t n = strlen(name);
	return strncmp(word, "--", 2) == 0 && strncmp(word + 2, name, n) == 0 &&
	       (word[2 + n] == '\0' || word[2 + n] == '=');
}

static bool is_option_name(const struct option *opts, const char *word)
{
	for (const struct option *o = opts; o->name != NULL; o++)
		if (spelled_in_full(word, o->name))
			return true;
	return false;
}

/* An unknown long option, cut at '=' so that no value is echoed. */
static int unknown_option(const mh_cli_command *cmd, const char *word)
{
	size_t n = strcspn(word, "=");
	bool secretish = strncmp(word, "--pass", 6) == 0 || strncmp(word, "--token", 7) == 0 ||
	                 strncmp(word, "--secret", 8) == 0 || strncmp(word, "--pw", 4) == 0;
	if (secretish)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "unknown option '%.*s': a password or token is never taken "
		                    "from the command line; use --password-file or --token-file, "
		                    "or MAPIHTTP_PASSWORD or MAPIHTTP_TOKEN",
		                    (int)n, word);
	return mh_cli_usage(cmd->name, cmd->help_name, "unknown option '%.*s'", (int)n, word);
}

typedef struct sources {
	const char *password_file;
	const char *token_file;
	bool auth_set;
} sources;

/* Chooses the scheme and loads the one secret it needs. */
static int load_secret(mh_cli_identity *id, const mh_cli_command *cmd, const sources *src)
{
	bool env_token = env_set("MAPIHTTP_TOKEN");
	if (!src->auth_set)
		id->scheme = src->token_file != NULL || (src->password_file == NULL && env_token)
		                 ? MH_AUTH_BEARER
		                 : MH_AUTH_BASIC;
	const char *name = mh_cli_auth_name(id->scheme);
	bool want_token = id->scheme == MH_AUTH_BEARER;
	bool want_password = id->scheme == MH_AUTH_BASIC || id->scheme == MH_AUTH_NTLM;

	if (src->password_file != NULL && !want_password)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "--password-file is not used with %s authentication%s", name,
		                    src->token_file != NULL && !src->auth_set
		                        ? " (give one of --password-file and --token-file)"
		                        : "");
	if (src->token_file != NULL && !want_token)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "--token-file is not used with %s authentication", name);

	char *pw = NULL, *tok = NULL;
	size_t pw_len = 0, tok_len = 0;
	bool ok = take_env("MAPIHTTP_PASSWORD", want_password && src->password_file == NULL, &pw,
	                   &pw_len);
	ok =
	    take_env("MAPIHTTP_TOKEN", want_token && src->token_file == NULL, &tok, &tok_len) && ok;
	if (!ok) {
		secret_drop(&pw, &pw_len);
		secret_drop(&tok, &tok_len);
		return mh_cli_fail(mh_error_oom());
	}
	if (want_password) {
		id->secret = pw;
		id->secret_len = pw_len;
	} else if (want_token) {
		id->secret = tok;
		id->secret_len = tok_len;
	}

	int rc = MH_CLI_CONTINUE;
	if (want_password && src->password_file != NULL)
		rc = read_secret_file(cmd, "--password-file", src->password_file, &id->secret,
		                      &id->secret_len);
	else if (want_token && src->token_file != NULL)
		rc = read_secret_file(cmd, "--token-file", src->token_file, &id->secret,
		                      &id->secret_len);
	if (rc != MH_CLI_CONTINUE)
		return rc;

	if (want_password && id->secret == NULL)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "no credentials: give --password-file FILE or set "
		                    "MAPIHTTP_PASSWORD (or a token: --token-file FILE or "
		                    "MAPIHTTP_TOKEN)");
	if (want_token && id->secret == NULL)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "no token for bearer authentication: give --token-file FILE or "
		                    "set MAPIHTTP_TOKEN");
	if (want_password && id->user == NULL)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "%s authentication needs a user: give --user EMAIL or set "
		                    "MAPIHTTP_USER",
		                    name);
	return MH_CLI_CONTINUE;
}

static int check_and_warn(mh_cli_identity *id, const mh_cli_command *cmd)
{
	if (id->autodiscover_url != NULL) {
		if (has_prefix_nocase(id->autodiscover_url, "http://"))
			id->allow_http = true;
		else if (!has_prefix_nocase(id->autodiscover_url, "https://"))
			return mh_cli_usage(
			    cmd->name, cmd->help_name,
			    "--autodiscover-url takes an https:// (or http://) URL");
	}
	if (id->cacert != NULL && access(id->cacert, R_OK) != 0)
		return mh_cli_usage(cmd->name, cmd->help_name, "cannot read --cacert '%s': %s",
		                    id->cacert, strerror(errno));
	if (id->insecure)
		fputs("mapihttp: warning: --insecure: TLS certificates and host names are not "
		      "verified\n",
		      stderr);
	if (id->allow_http)
		fputs("mapihttp: warning: --autodiscover-url is plain HTTP: credentials and "
		      "answers travel unencrypted\n",
		      stderr);
	return MH_CLI_CONTINUE;
}

static int parse_options(mh_cli_identity *id, const mh_cli_command *cmd, const struct option *all,
                         sources *src, int argc, char **argv)
{
	int opt;
	int longindex = -1;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":hv", all, &longindex)) != -1) {
		if (opt == '?' || opt == ':') {
			const char *word = optind > 0 ? argv[optind - 1] : "";
			if (strncmp(word, "--", 2) == 0 && !is_option_name(all, word))
				return unknown_option(cmd, word);
			return mh_cli_getopt_error(cmd->name, cmd->help_name, opt, argv, all);
		}
		if (longindex >= 0) {
			/* A separate argument is the last word consumed, the option the one before.
			 */
			const char *word =
			    optarg != NULL && optind >= 2 && optarg == argv[optind - 1]
			        ? argv[optind - 2]
			        : argv[optind - 1];
			if (!spelled_in_full(word, all[longindex].name))
				return unknown_option(cmd, word);
		}
		longindex = -1;
		switch (opt) {
		case OPT_USER:
			if (optarg[0] == '\0')
				return mh_cli_usage(cmd->name, cmd->help_name, "--user is empty");
			id->user = optarg;
			break;
		case OPT_PASSWORD_FILE:
			src->password_file = optarg;
			break;
		case OPT_TOKEN_FILE:
			src->token_file = optarg;
			break;
		case OPT_AUTH:
			if (!parse_scheme(optarg, &id->scheme))
				return mh_cli_usage(
				    cmd->name, cmd->help_name,
				    "--auth takes basic, bearer, ntlm or negotiate, "
				    "not '%s'",
				    optarg);
			src->auth_set = true;
			break;
		case OPT_AD_URL:
			id->autodiscover_url = optarg;
			break;
		case OPT_CACERT:
			id->cacert = optarg;
			break;
		case OPT_INSECURE:
			id->insecure = true;
			break;
		case OPT_JSON:
			id->json = true;
			break;
		case OPT_TIMEOUT:
			if (!parse_seconds(optarg, &id->timeout_ms))
				return mh_cli_usage(
				    cmd->name, cmd->help_name,
				    "--timeout takes whole seconds from 1 to %u, not "
				    "'%s'",
				    MAX_TIMEOUT_S, optarg);
			break;
		case 'v':
		case OPT_VERBOSE_LONG:
			id->verbose = true;
			break;
		case 'h':
			cmd->help(stdout);
			return MH_CLI_EXIT_OK;
		default: {
			int rc = cmd->on_option != NULL ? cmd->on_option(cmd->ud, opt, optarg)
			                                : MH_CLI_EXIT_USAGE;
			if (rc != MH_CLI_CONTINUE)
				return rc;
		}
		}
	}
	return MH_CLI_CONTINUE;
}

int mh_cli_identity_parse(mh_cli_identity *id, const mh_cli_command *cmd, int argc, char **argv,
                          int *first_arg)
{
	memset(id, 0, sizeof(*id));
	id->scheme = MH_AUTH_BASIC;
	id->timeout_ms = MH_CLI_DEFAULT_TIMEOUT_S * 1000u;
	*first_arg = argc;

	size_t n_cmd = 0;
	while (cmd->longopts != NULL && cmd->longopts[n_cmd].name != NULL)
		n_cmd++;
	struct option *all = calloc(n_cmd + N_SHARED + 1, sizeof(*all));
	if (all == NULL)
		return mh_cli_fail(mh_error_oom());
	if (n_cmd > 0)
		memcpy(all, cmd->longopts, n_cmd * sizeof(*all));
	memcpy(all + n_cmd, shared_opts, sizeof(shared_opts));

	sources src = {NULL, NULL, false};
	int rc = parse_options(id, cmd, all, &src, argc, argv);
	free(all);
	if (rc == MH_CLI_CONTINUE && id->user == NULL) {
		const char *u = getenv("MAPIHTTP_USER");
		if (u != NULL && u[0] != '\0')
			id->user = u;
	}
	if (rc == MH_CLI_CONTINUE)
		rc = load_secret(id, cmd, &src);
	if (rc == MH_CLI_CONTINUE)
		rc = check_and_warn(id, cmd);
	if (rc != MH_CLI_CONTINUE) {
		mh_cli_identity_free(id);
		return rc;
	}
	*first_arg = optind;
	return MH_CLI_CONTINUE;
}

mh_transport_auth mh_cli_identity_auth(const mh_cli_identity *id)
{
	mh_transport_auth a = {id->scheme, id->user, id->secret};
	if (id->scheme == MH_AUTH_NEGOTIATE)
		a.secret = NULL;
	return a;
}

void mh_cli_identity_discover_options(const mh_cli_identity *id, mh_ad_discover_options *o)
{
	*o = (mh_ad_discover_options)MH_AD_DISCOVER_OPTIONS_INIT;
	o->auth = mh_cli_identity_auth(id);
	o->url = id->autodiscover_url;
	o->allow_http = id->allow_http;
	o->timeout_ms = id->timeout_ms;
	o->request_timeout_ms = id->timeout_ms;
	o->connect_timeout_ms = id->timeout_ms;
}

void mh_cli_verbose(const mh_cli_identity *id, const char *fmt, ...)
{
	if (!id->verbose)
		return;
	va_list ap;
	fputs("mapihttp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- -v: a transport that reports each request ----------------------------------------- */

typedef struct vreq vreq;

typedef struct vtransport {
	mh_transport t;
	mh_transport *inner;
	vreq *live;
} vtransport;

struct vreq {
	vreq *next;
	vtransport *vt;
	uint64_t id;
	mh_transport_callbacks inner_cb;
	long http_status;
	char method[8];
	char *url; /* as shown */
};

/*
 * The URL for a progress line: without user information (https://user:pw@host/) and with
 * control characters replaced, so a line stays one line. malloc()ed; NULL on OOM.
 */
static char *shown_url(const char *url)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end != NULL ? scheme_end + 3 : url;
	size_t auth_len = strcspn(host, "/?#");
	const char *at = memchr(host, '@', auth_len);
	char *out;
	if (at != NULL)
		out = mh_cli_format("%.*s%s", (int)(host - url), url, at + 1);
	else
		out = mh_cli_format("%s", url);
	if (out != NULL)
		for (char *p = out; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7F)
				*p = '?';
	return out;
}

static void vreq_unlink(vreq *r)
{
	for (vreq **pp = &r->vt->live; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			return;
		}
}

static void vreq_free(vreq *r)
{
	free(r->url);
	free(r);
}

static mh_status v_on_headers(void *ud, long http_status, const mh_transport_header *headers,
                              size_t n_headers)
{
	vreq *r = ud;
	r->http_status = http_status;
	if (r->inner_cb.on_headers == NULL)
		return S_OK;
	return r->inner_cb.on_headers(r->inner_cb.ud, http_status, headers, n_headers);
}

static mh_status v_on_data(void *ud, const void *data, size_t len)
{
	vreq *r = ud;
	if (r->inner_cb.on_data == NULL)
		return S_OK;
	return r->inner_cb.on_data(r->inner_cb.ud, data, len);
}

static void v_on_done(void *ud, mh_status status)
{
	vreq *r = ud;
	if (status == S_OK) {
		fprintf(stderr, "mapihttp: %s %s: HTTP %ld\n", r->method, r->url, r->http_status);
	} else {
		const mh_error *e = mh_error_last();
		fprintf(stderr, "mapihttp: %s %s: %s%s%s\n", r->method, r->url,
		        mh_status_str(status),
		        e != NULL && e->status == status && e->message != NULL ? ": " : "",
		        e != NULL && e->status == status && e->message != NULL ? e->message : "");
	}
	vreq_unlink(r);
	if (r->inner_cb.on_done != NULL)
		r->inner_cb.on_done(r->inner_cb.ud, status);
	vreq_free(r);
}

static mh_status v_start(void *self, const mh_transport_request *rq,
                         const mh_transport_callbacks *cb, uint64_t *id)
{
	vtransport *vt = self;
	vreq *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return mh_error_oom();
	r->url = shown_url(rq->url != NULL ? rq->url : "");
	if (r->url == NULL) {
		free(r);
		return mh_error_oom();
	}
	snprintf(r->method, sizeof(r->method), "%s", rq->method != NULL ? rq->method : "?");
	r->vt = vt;
	r->inner_cb = *cb;
	fprintf(stderr, "mapihttp: %s %s\n", r->method, r->url);
	mh_transport_callbacks mine = {v_on_headers, v_on_data, v_on_done, r};
	mh_status st = vt->inner->ops->start(vt->inner->self, rq, &mine, &r->id);
	if (st != S_OK) {
		fprintf(stderr, "mapihttp: %s %s: %s\n", r->method, r->url, mh_status_str(st));
		vreq_free(r);
		return st;
	}
	r->next = vt->live;
	vt->live = r;
	*id = r->id;
	return S_OK;
}

static void v_cancel(void *self, uint64_t id)
{
	vtransport *vt = self;
	for (vreq *r = vt->live; r != NULL; r = r->next)
		if (r->id == id) {
			vreq_unlink(r);
			vt->inner->ops->cancel(vt->inner->self, id);
			vreq_free(r);
			return;
		}
	vt->inner->ops->cancel(vt->inner->self, id);
}

static mh_status v_run(void *self, int timeout_ms)
{
	vtransport *vt = self;
	return vt->inner->ops->run(vt->inner->self, timeout_ms);
}

static size_t v_pending(void *self)
{
	vtransport *vt = self;
	return vt->inner->ops->pending(vt->inner->self);
}

/* The tool never frees its transport from inside a callback. */
static void v_destroy(void *self)
{
	vtransport *vt = self;
	mh_transport_free(vt->inner);
	while (vt->live != NULL) {
		vreq *r = vt->live;
		vt->live = r->next;
		vreq_free(r);
	}
	free(vt);
}

static const mh_transport_ops verbose_ops = {1, v_start, v_cancel, v_run, v_pending, v_destroy};

mh_status mh_cli_identity_transport(const mh_cli_identity *id, mh_transport **t)
{
	*t = NULL;
	mh_transport_curl_options copts = MH_TRANSPORT_CURL_OPTIONS_INIT;
	copts.cacert = id->cacert;
	copts.insecure = id->insecure;
	mh_transport *curl = NULL;
	mh_status st = mh_transport_curl_new(&curl, &copts);
	if (st != S_OK)
		return st;
	mh_transport *outer = curl;
	if (id->verbose) {
		vtransport *vt = calloc(1, sizeof(*vt));
		if (vt == NULL) {
			mh_transport_free(curl);
			return mh_error_oom();
		}
		vt->inner = curl;
		vt->t.ops = &verbose_ops;
		vt->t.self = vt;
		outer = &vt->t;
	}
	*t = outer;
	return S_OK;
}

mh_status mh_cli_identity_connect(const mh_cli_identity *id, mh_transport **t, mh_loop **loop)
{
	*loop = NULL;
	mh_transport *outer = NULL;
	mh_status st = mh_cli_identity_transport(id, &outer);
	if (st != S_OK)
		return st;
	st = mh_loop_new(loop, outer, NULL);
	if (st != S_OK) {
		mh_transport_free(outer);
		return st;
	}
	*t = outer;
	return S_OK;
}

void mh_cli_identity_session_options(const mh_cli_identity *id, mh_transport *t,
                                     mh_session_options *o)
{
	*o = (mh_session_options)MH_SESSION_OPTIONS_INIT;
	o->user = id->user;
	o->auth = mh_cli_identity_auth(id);
	o->autodiscover_url = id->autodiscover_url;
	o->allow_http = id->allow_http;
	o->transport = t;
	o->cacert = id->cacert;
	o->insecure = id->insecure;
	o->connect_timeout_ms = id->timeout_ms;
	o->request_timeout_ms = id->timeout_ms;
	o->timeout_ms = id->timeout_ms;
}

/* ---- which store ------------------------------------------------------------------------ */

void mh_cli_store_choice_help(FILE *out)
{
	fputs("Which store (default: the identity's own mailbox):\n"
	      "  --mailbox EMAIL         the mailbox of EMAIL (shared, delegated, another\n"
	      "                          user's)\n"
	      "  --archive[=EMAIL]       the archive of EMAIL (also written --archive EMAIL),\n"
	      "                          of the --mailbox address, or of the identity\n"
	      "  --entryid HEX           the store EntryID HEX (v3, as 'mapihttp stores'\n"
	      "                          prints; a v1 or v2 one fails as in Outlook)\n"
	      "  --upgrade-v1            with --entryid: open a v1 or v2 EntryID by resolving\n"
	      "                          its mailbox DN through the address book\n",
	      out);
}

void mh_cli_help_end(FILE *out, bool store_choice)
{
	if (store_choice) {
		mh_cli_store_choice_help(out);
		fputc('\n', out);
	}
	mh_cli_identity_help(out);
	fputs("\nExit status: 0 success, 1 error, 2 usage error.\n", out);
}

int mh_cli_store_choice_option(mh_cli_store_choice *c, int opt, const char *arg)
{
	const mh_cli_command *cmd = c->cmd;
	switch (opt) {
	case MH_CLI_OPT_MAILBOX:
		if (arg[0] == '\0')
			return mh_cli_usage(cmd->name, cmd->help_name, "--mailbox is empty");
		c->mailbox = arg;
		return MH_CLI_CONTINUE;
	case MH_CLI_OPT_ARCHIVE:
		if (arg != NULL && arg[0] == '\0')
			return mh_cli_usage(cmd->name, cmd->help_name, "--archive= is empty");
		c->archive = true;
		c->archive_of = arg;
		return MH_CLI_CONTINUE;
	case MH_CLI_OPT_ENTRYID:
		if (arg[0] == '\0')
			return mh_cli_usage(cmd->name, cmd->help_name, "--entryid is empty");
		c->entryid = arg;
		return MH_CLI_CONTINUE;
	case MH_CLI_OPT_UPGRADE_V1:
		c->upgrade_v1 = true;
		return MH_CLI_CONTINUE;
	default:
		return MH_CLI_EXIT_USAGE;
	}
}

int mh_cli_store_choice_on_option(void *ud, int opt, const char *arg)
{
	return mh_cli_store_choice_option(ud, opt, arg);
}

int mh_cli_store_choice_check(const mh_cli_store_choice *c)
{
	const mh_cli_command *cmd = c->cmd;
	if (c->entryid != NULL && (c->mailbox != NULL || c->archive))
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "--entryid names the store itself: it goes with neither "
		                    "--mailbox nor --archive");
	if (c->entryid != NULL) {
		uint8_t *bytes = NULL;
		size_t len = 0;
		mh_status st = mh_hex_decode(&bytes, &len, c->entryid, strlen(c->entryid));
		free(bytes);
		if (st != S_OK) {
			const mh_error *e = mh_error_last();
			return mh_cli_usage(cmd->name, cmd->help_name, "--entryid: %s",
			                    e != NULL && e->status == st && e->message != NULL
			                        ? e->message
			                        : "not hex");
		}
		if (len < sizeof(ENTRYID) + 1 || len > UINT32_MAX)
			return mh_cli_usage(cmd->name, cmd->help_name,
			                    "--entryid: %zu bytes cannot be a store EntryID", len);
	}
	if (c->upgrade_v1 && c->entryid == NULL)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "--upgrade-v1 applies to --entryid only");
	if (c->archive_of != NULL && c->mailbox != NULL &&
	    strcasecmp(c->archive_of, c->mailbox) != 0)
		return mh_cli_usage(cmd->name, cmd->help_name,
		                    "--archive=%s and --mailbox %s name two mailboxes: give one",
		                    c->archive_of, c->mailbox);
	return MH_CLI_CONTINUE;
}

static void argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

/*
 * A copy of argv (NULL-terminated, every word copied) where "--archive EMAIL" is joined into
 * "--archive=EMAIL" when EMAIL holds '@', so the optional argument may be a separate word.
 * *argc is updated. NULL on OOM.
 */
static char **join_archive(int *argc, char **argv)
{
	int n = *argc;
	char **out = calloc((size_t)n + 1, sizeof(*out));
	if (out == NULL)
		return NULL;
	int k = 0;
	bool options = true;
	for (int i = 0; i < n; i++) {
		const char *w = argv[i];
		if (options && strcmp(w, "--") == 0)
			options = false;
		if (options && i > 0 && strcmp(w, "--archive") == 0 && i + 1 < n &&
		    argv[i + 1][0] != '-' && strchr(argv[i + 1], '@') != NULL) {
			out[k] = mh_cli_format("--archive=%s", argv[i + 1]);
			i++;
		} else {
			out[k] = strdup(w);
		}
		if (out[k] == NULL) {
			argv_free(out);
			return NULL;
		}
		k++;
	}
	*argc = k;
	return out;
}

int mh_cli_run_joined_archive(int argc, char **argv, int (*run)(int argc, char **argv))
{
	char **args = join_archive(&argc, argv);
	if (args == NULL)
		return mh_cli_fail(mh_error_oom());
	int rc = run(argc, args);
	argv_free(args);
	return rc;
}

/* ---- sessions ------------------------------------------------------------------------------ */

int mh_cli_session_fail(const mh_session *s, mh_status status)
{
	return mh_cli_fail_detail(status, s != NULL ? mh_session_errmsg(s) : NULL);
}

int mh_cli_session_open(const mh_cli_identity *id, mh_session **s, mh_transport **t)
{
	*s = NULL;
	mh_status st = mh_cli_identity_transport(id, t);
	if (st != S_OK)
		return mh_cli_fail(st);
	mh_session_options o;
	mh_cli_identity_session_options(id, *t, &o);
	mh_cli_verbose(id, "opening a session as %s (%s authentication)", id->user,
	               mh_cli_auth_name(id->scheme));
	st = mh_session_open(s, &o);
	if (st != S_OK) {
		mh_transport_free(*t);
		*t = NULL;
		return mh_cli_fail(st);
	}
	mh_session_info info;
	mh_session_get_info(*s, &info);
	mh_cli_verbose(id, "logged on to %s (%s) at %s",
	               info.smtp_address != NULL ? info.smtp_address : id->user,
	               info.mailbox_dn != NULL ? info.mailbox_dn : "?",
	               info.mailstore_url != NULL ? info.mailstore_url : "?");
	return MH_CLI_CONTINUE;
}

int mh_cli_store_open(mh_session *s, const mh_cli_identity *id, const mh_cli_store_choice *c,
                      mh_store **out)
{
	*out = NULL;
	if (c->entryid == NULL && c->mailbox == NULL && !c->archive) {
		*out = mh_session_primary(s);
		return MH_CLI_CONTINUE;
	}
	uint32_t cb = 0;
	ENTRYID *eid = NULL;
	uint8_t *bytes = NULL;
	mh_status st;
	uint32_t flags = 0;
	if (c->entryid != NULL) {
		size_t len = 0;
		st = mh_hex_decode(&bytes, &len, c->entryid, strlen(c->entryid));
		if (st != S_OK)
			return mh_cli_fail(st);
		/* mh_cli_store_choice_check has seen it: the length fits. */
		cb = (uint32_t)len;
		eid = (ENTRYID *)(void *)bytes;
		if (c->upgrade_v1)
			flags |= MH_OPENSTORE_UPGRADE_V1;
		mh_cli_verbose(id, "opening the store of the %u-byte EntryID given%s", cb,
		               c->upgrade_v1 ? " (a v1 or v2 one through NSPI)" : "");
	} else {
		const char *who = c->archive_of != NULL ? c->archive_of
		                  : c->mailbox != NULL  ? c->mailbox
		                                        : id->user;
		mh_cli_verbose(id, "finding the %s of %s", c->archive ? "archive" : "mailbox", who);
		st = mh_session_mailbox_entryid(s, who, c->archive, &cb, &eid);
		if (st != S_OK)
			return mh_cli_session_fail(s, st);
	}
	/* A v1 or v2 EntryID: the tool has a way out to add to the library's explanation. */
	bool old_version = false;
	if (c->entryid != NULL && !c->upgrade_v1) {
		mh_store_entryid *parsed = NULL;
		if (mh_store_entryid_parse(&parsed, cb, eid) == S_OK)
			old_version = parsed->version < 3;
		MAPIFreeBuffer(parsed);
	}
	st = mh_session_open_msg_store(out, s, cb, eid, flags);
	if (bytes != NULL)
		free(bytes);
	else
		MAPIFreeBuffer(eid);
	if (st == S_OK)
		return MH_CLI_CONTINUE;
	*out = NULL;
	const char *msg = mh_session_errmsg(s);
	if (st == MAPI_E_CALL_FAILED && old_version) {
		char *line =
		    mh_cli_format("%s; with mapihttp, give --upgrade-v1 to resolve its mailbox DN "
		                  "through the address book",
		                  msg != NULL && msg[0] != '\0' ? msg : mh_status_meaning(st));
		int rc = mh_cli_fail_detail(st, line != NULL ? line : msg);
		free(line);
		return rc;
	}
	return mh_cli_fail_detail(st, msg);
}

int mh_cli_identity_require_user(const mh_cli_identity *id, const mh_cli_command *cmd)
{
	if (id->user != NULL && id->user[0] != '\0')
		return MH_CLI_CONTINUE;
	return mh_cli_usage(cmd->name, cmd->help_name,
	                    "no identity: give --user EMAIL or set MAPIHTTP_USER");
}

/* mh_cli_session_main once the command line is known good. */
static int session_run(mh_cli_identity *id, const mh_cli_store_choice *choice, mh_cli_session_fn fn,
                       void *ud)
{
	mh_session *s = NULL;
	mh_transport *t = NULL;
	int rc = mh_cli_session_open(id, &s, &t);
	/* The session keeps its own copy of the credentials. */
	mh_cli_identity_free(id);
	if (rc != MH_CLI_CONTINUE)
		return rc;
	mh_store *st = NULL;
	if (choice != NULL)
		rc = mh_cli_store_open(s, id, choice, &st);
	if (rc == MH_CLI_CONTINUE) {
		rc = fn(s, st, id, ud);
		mh_store_close(st);
	}
	mh_session_close(s);
	mh_transport_free(t);
	return rc;
}

int mh_cli_session_main(mh_cli_identity *id, const mh_cli_command *cmd, int rc,
                        const mh_cli_store_choice *choice, mh_cli_session_fn fn, void *ud)
{
	if (rc == MH_CLI_CONTINUE && choice != NULL)
		rc = mh_cli_store_choice_check(choice);
	if (rc == MH_CLI_CONTINUE)
		rc = mh_cli_identity_require_user(id, cmd);
	if (rc != MH_CLI_CONTINUE) {
		mh_cli_identity_free(id);
		return rc;
	}
	return session_run(id, choice, fn, ud);
}
