/*
 * mapihttpd: an Exchange-compatible MAPI/HTTP test server. This file reads the command line,
 * opens the store, binds the socket, and runs the session layer behind the HTTP front until
 * SIGTERM or SIGINT.
 */
#define _DEFAULT_SOURCE /* SOCK_CLOEXEC, getaddrinfo */

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapihttp/common.h"
#include "server/fault.h"
#include "server/http.h"
#include "server/mapi_srv.h"
#include "server/rop_srv.h"
#include "server/store.h"

/* Requests still running at a stop get this long to finish. */
#define STOP_GRACE_MS 10000u
#define MAX_PEM_FILE  ((size_t)1 << 20)

static const char usage[] =
    "usage: mapihttpd [options]\n"
    "  --listen ADDR:PORT      address to listen on (default 127.0.0.1:8080; port 0 picks\n"
    "                          a free port; IPv6 as [::1]:8080)\n"
    "  --tls-cert FILE         serve HTTPS with this PEM certificate (needs --tls-key)\n"
    "  --tls-key FILE          the certificate's PEM private key\n"
    "  --db PATH               keep the store in this SQLite file (default: in memory)\n"
    "  --org FILE              load an organisation file (JSON)\n"
    "  --sample                load the built-in sample organisation (the default when the\n"
    "                          store is empty and neither --org nor --generate is given)\n"
    "  --generate USERS,MSGS   load a synthetic organisation for benchmarks\n"
    "  --max-body BYTES        cap on a /mapi request body (default 1048576)\n"
    "  --rights-mode MODE      folder (Exchange 2013 and later, the default) or logon\n"
    "                          (Exchange 2010: a logon to another primary mailbox without\n"
    "                          FullAccess fails)\n"
    "  --expiration MS         idle time after which a session context is dropped\n"
    "                          (default 900000)\n"
    "  --max-contexts-per-user N  session contexts one user may hold (default 64)\n"
    "  --max-contexts N        session contexts of all users together (default 100000)\n"
    "  --notification-wait MS  how long a NotificationWait is held (default 300000)\n"
    "  --pending-period MS     X-PendingPeriod: interval of PENDING lines in held answers\n"
    "                          (default 15000)\n"
    "  --fault SPEC            inject failures, repeatable (at most 16):\n"
    "                          KIND[,every=N][,p=P][,seed=S][,ms=T], KIND one of close,\n"
    "                          503, expire, stall, backoff, wrongserver (see mapihttpd(8))\n"
    "  --quiet                 no request log on stderr\n"
    "  --help                  this text\n"
    "  --version               the version\n";

typedef struct options {
	const char *listen;
	const char *tls_cert;
	const char *tls_key;
	const char *db;
	const char *org;
	bool sample;
	bool generate;
	unsigned gen_users, gen_messages;
	size_t max_body;
	bool quiet;
	mh_srv_rights_mode rights_mode;
	uint32_t expiration;
	unsigned max_contexts_per_user;
	unsigned max_contexts;
	uint32_t notification_wait;
	uint32_t pending_period;
	mh_srv_faults *faults; /* owned by main */
} options;

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mapihttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static int store_fail(const char *what)
{
	const mh_error *e = mh_error_last();
	fprintf(stderr, "mapihttpd: %s: %s\n", what, e != NULL ? e->message : "failed");
	return 1;
}

static bool parse_unsigned(const char *s, unsigned long long max, unsigned long long *out)
{
	if (s == NULL || s[0] < '0' || s[0] > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* A number option in [min, max], or a message and exit status 2. */
static int number_option(const char *name, const char *unit, const char *arg,
                         unsigned long long min, unsigned long long max, unsigned long long *v)
{
	if (!parse_unsigned(arg, max, v) || *v < min)
		return fail("%s wants %s from %llu to %llu, not '%s'", name, unit, min, max, arg);
	return 0;
}

static int parse_args(int argc, char **argv, options *o, mh_srv_faults *faults)
{
	enum {
		O_LISTEN = 256,
		O_CERT,
		O_KEY,
		O_DB,
		O_ORG,
		O_SAMPLE,
		O_GEN,
		O_MAXBODY,
		O_RIGHTS,
		O_EXPIRATION,
		O_CTX_USER,
		O_CTX_ALL,
		O_NOTIFY_WAIT,
		O_PENDING,
		O_FAULT,
		O_QUIET,
		O_HELP,
		O_VERSION
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"tls-cert", required_argument, NULL, O_CERT},
	    {"tls-key", required_argument, NULL, O_KEY},
	    {"db", required_argument, NULL, O_DB},
	    {"org", required_argument, NULL, O_ORG},
	    {"sample", no_argument, NULL, O_SAMPLE},
	    {"generate", required_argument, NULL, O_GEN},
	    {"max-body", required_argument, NULL, O_MAXBODY},
	    {"rights-mode", required_argument, NULL, O_RIGHTS},
	    {"expiration", required_argument, NULL, O_EXPIRATION},
	    {"max-contexts-per-user", required_argument, NULL, O_CTX_USER},
	    {"max-contexts", required_argument, NULL, O_CTX_ALL},
	    {"notification-wait", required_argument, NULL, O_NOTIFY_WAIT},
	    {"pending-period", required_argument, NULL, O_PENDING},
	    {"fault", required_argument, NULL, O_FAULT},
	    {"quiet", no_argument, NULL, O_QUIET},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->listen = "127.0.0.1:8080";
	o->rights_mode = MH_SRV_RIGHTS_FOLDER;
	o->faults = faults;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		unsigned long long v;
		switch (ch) {
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_CERT:
			o->tls_cert = optarg;
			break;
		case O_KEY:
			o->tls_key = optarg;
			break;
		case O_DB:
			o->db = optarg;
			break;
		case O_ORG:
			o->org = optarg;
			break;
		case O_SAMPLE:
			o->sample = true;
			break;
		case O_GEN: {
			char buf[64];
			snprintf(buf, sizeof(buf), "%s", optarg);
			char *comma = strchr(buf, ',');
			unsigned long long u, m;
			if (comma == NULL)
				return fail("--generate wants USERS,MESSAGES, not '%s'", optarg);
			*comma = 0;
			if (!parse_unsigned(buf, 100000, &u) ||
			    !parse_unsigned(comma + 1, 100000, &m))
				return fail("--generate wants USERS,MESSAGES (numbers), not '%s'",
				            optarg);
			o->generate = true;
			o->gen_users = (unsigned)u;
			o->gen_messages = (unsigned)m;
			break;
		}
		case O_MAXBODY:
			if (!parse_unsigned(optarg, (unsigned long long)1 << 30, &v) || v == 0)
				return fail(
				    "--max-body wants a byte count (1 to 1073741824), not '%s'",
				    optarg);
			o->max_body = (size_t)v;
			break;
		case O_RIGHTS:
			if (strcmp(optarg, "folder") == 0)
				o->rights_mode = MH_SRV_RIGHTS_FOLDER;
			else if (strcmp(optarg, "logon") == 0)
				o->rights_mode = MH_SRV_RIGHTS_LOGON;
			else
				return fail("--rights-mode wants folder or logon, not '%s'",
				            optarg);
			break;
		case O_EXPIRATION:
			if (number_option("--expiration", "milliseconds", optarg, 1, 86400000, &v))
				return 2;
			o->expiration = (uint32_t)v;
			break;
		case O_CTX_USER:
			if (number_option("--max-contexts-per-user", "a count", optarg, 1, 1000000,
			                  &v))
				return 2;
			o->max_contexts_per_user = (unsigned)v;
			break;
		case O_CTX_ALL:
			if (number_option("--max-contexts", "a count", optarg, 1, 10000000, &v))
				return 2;
			o->max_contexts = (unsigned)v;
			break;
		case O_NOTIFY_WAIT:
			if (number_option("--notification-wait", "milliseconds", optarg, 1, 3600000,
			                  &v))
				return 2;
			o->notification_wait = (uint32_t)v;
			break;
		case O_PENDING:
			if (number_option("--pending-period", "milliseconds", optarg, 10, 3600000,
			                  &v))
				return 2;
			o->pending_period = (uint32_t)v;
			break;
		case O_FAULT:
			if (mh_srv_faults_add(faults, optarg) != S_OK) {
				const mh_error *e = mh_error_last();
				return fail("--fault: %s",
				            e != NULL && e->message != NULL ? e->message : optarg);
			}
			break;
		case O_QUIET:
			o->quiet = true;
			break;
		case O_HELP:
			fputs(usage, stdout);
			return -1;
		case O_VERSION:
			printf("mapihttpd %s\n", MH_VERSION_STRING);
			return -1;
		default:
			return fail("unknown or incomplete option '%s' (see --help)",
			            argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument '%s' (see --help)", argv[optind]);
	if ((o->tls_cert == NULL) != (o->tls_key == NULL))
		return fail("%s", "--tls-cert and --tls-key go together");
	if ((o->org != NULL) + o->sample + o->generate > 1)
		return fail("%s", "choose one of --org, --sample and --generate");
	return 0;
}

/* Reads a small text file whole; NULL with a message on stderr. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "mapihttpd: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(MAX_PEM_FILE + 1);
	size_t n = buf != NULL ? fread(buf, 1, MAX_PEM_FILE + 1, f) : 0;
	bool err = ferror(f) != 0;
	fclose(f);
	if (buf == NULL || err || n == 0 || n > MAX_PEM_FILE || memchr(buf, 0, n) != NULL) {
		fprintf(stderr, "mapihttpd: %s is unreadable, empty, binary or over 1 MiB\n", path);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* Binds and listens; fills base (scheme://address:port). -1 with a message on failure. */
static int open_listener(const char *spec, bool tls, char *base, size_t cap)
{
	char host[256];
	const char *port;
	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');
		if (close_br == NULL || close_br[1] != ':' ||
		    (size_t)(close_br - spec) >= sizeof(host))
			return fail("--listen wants ADDR:PORT or [IPv6]:PORT, not '%s'", spec), -1;
		memcpy(host, spec + 1, (size_t)(close_br - spec - 1));
		host[close_br - spec - 1] = 0;
		port = close_br + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon == NULL || (size_t)(colon - spec) >= sizeof(host) || colon == spec)
			return fail("--listen wants ADDR:PORT, not '%s'", spec), -1;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = 0;
		port = colon + 1;
	}
	unsigned long long pv;
	if (!parse_unsigned(port, 65535, &pv))
		return fail("--listen: bad port in '%s'", spec), -1;

	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		fprintf(stderr, "mapihttpd: --listen %s: %s\n", spec, gai_strerror(gai));
		return -1;
	}
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0) {
		fprintf(stderr, "mapihttpd: socket: %s\n", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
		fprintf(stderr, "mapihttpd: cannot listen on %s: %s\n", spec, strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "";
	unsigned bound_port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *in =
			    (const struct sockaddr_in *)(const void *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
			bound_port = ntohs(in->sin_port);
			snprintf(base, cap, "%s://%s:%u", tls ? "https" : "http", addr, bound_port);
		} else {
			const struct sockaddr_in6 *in6 =
			    (const struct sockaddr_in6 *)(const void *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
			bound_port = ntohs(in6->sin6_port);
			snprintf(base, cap, "%s://[%s]:%u", tls ? "https" : "http", addr,
			         bound_port);
		}
	} else {
		fprintf(stderr, "mapihttpd: getsockname: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int load_org(mh_srv_store *st, const options *o)
{
	mh_arena a = MH_ARENA_INIT;
	mh_srv_org_info info;
	bool has_org = mh_srv_store_org_info(st, &a, &info) == S_OK;
	mh_arena_free(&a);
	bool asked = o->org != NULL || o->sample || o->generate;
	if (has_org) {
		if (asked)
			return fail("%s already holds an organisation; start without --org, "
			            "--sample or --generate to use it",
			            o->db);
		return 0;
	}
	mh_status s;
	if (o->org != NULL)
		s = mh_srv_store_load_file(st, o->org);
	else if (o->generate)
		s = mh_srv_store_generate(st, o->gen_users, o->gen_messages, 1);
	else
		s = mh_srv_store_load_sample(st);
	if (s != S_OK)
		return store_fail("loading the organisation");
	return 0;
}

int main(int argc, char **argv)
{
	mh_srv_faults *faults = NULL;
	if (mh_srv_faults_new(&faults) != S_OK)
		return store_fail("starting");
	options o;
	int rc = parse_args(argc, argv, &o, faults);
	if (rc != 0) {
		mh_srv_faults_free(faults);
		return rc < 0 ? 0 : rc;
	}

	/* Signals are taken by sigwait() below; every thread started later inherits the mask. */
	sigset_t stop_set;
	sigemptyset(&stop_set);
	sigaddset(&stop_set, SIGTERM);
	sigaddset(&stop_set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
	signal(SIGPIPE, SIG_IGN);

	char *cert = NULL, *key = NULL;
	if (o.tls_cert != NULL) {
		cert = read_text(o.tls_cert);
		key = cert != NULL ? read_text(o.tls_key) : NULL;
		if (cert == NULL || key == NULL) {
			free(cert);
			free(key);
			mh_srv_faults_free(faults);
			return 1;
		}
	}

	mh_srv_store *st = NULL;
	if (mh_srv_store_open(&st, o.db) != S_OK) {
		free(cert);
		free(key);
		mh_srv_faults_free(faults);
		return store_fail(o.db != NULL ? o.db : "opening the in-memory store");
	}
	rc = load_org(st, &o);
	char base[320];
	int fd = rc == 0 ? open_listener(o.listen, cert != NULL, base, sizeof(base)) : -1;
	mh_srv_mapi *mapi = NULL;
	if (rc == 0 && fd >= 0) {
		mh_srv_mapi_options mo = MH_SRV_MAPI_OPTIONS_INIT;
		mo.rop.rights_mode = o.rights_mode;
		mo.rop.faults = faults;
		mo.expiration = o.expiration;
		mo.max_contexts_per_user = o.max_contexts_per_user;
		mo.max_contexts = o.max_contexts;
		mo.notification_wait = o.notification_wait;
		mo.faults = faults;
		if (mh_srv_mapi_new(&mapi, st, &mo) != S_OK) {
			rc = store_fail("starting the session layer");
			close(fd);
			fd = -1;
		}
	}
	if (rc != 0 || fd < 0) {
		mh_srv_store_free(st);
		mh_srv_faults_free(faults);
		free(cert);
		free(key);
		return rc != 0 ? rc : 1;
	}

	mh_srv_http_options ho = MH_SRV_HTTP_OPTIONS_INIT;
	ho.listen_fd = fd;
	ho.base_url = base;
	ho.tls_cert = cert;
	ho.tls_key = key;
	ho.max_body = o.max_body;
	ho.log = o.quiet ? NULL : stderr;
	ho.pending_period = o.pending_period;
	ho.faults = faults;
	ho.emsmdb = mh_srv_mapi_emsmdb_handler(mapi);
	ho.nspi = mh_srv_mapi_nspi_handler(mapi);
	mh_srv_http *h = NULL;
	mh_status s = mh_srv_http_start(&h, st, &ho);
	if (key != NULL)
		memset(key, 0, strlen(key));
	free(cert);
	free(key);
	if (s != S_OK) {
		rc = store_fail("starting the HTTP server");
		mh_srv_mapi_free(mapi);
		mh_srv_store_free(st);
		mh_srv_faults_free(faults);
		return rc;
	}
	printf("mapihttpd: listening on %s\n", base);
	fflush(stdout);

	int sig = 0;
	while (sigwait(&stop_set, &sig) != 0)
		;
	if (!o.quiet)
		fprintf(stderr, "mapihttpd: %s received, stopping\n",
		        sig == SIGINT ? "SIGINT" : "SIGTERM");
	/* The front first, so no handler runs while the contexts go; the store last. */
	mh_srv_http_stop(h, STOP_GRACE_MS);
	mh_srv_mapi_free(mapi);
	mh_srv_store_free(st);
	mh_srv_faults_free(faults);
	return 0;
}
