/*
 * Child processes for the integration tests and the server benchmark: mapihttpd on a free port,
 * a program run to completion with its output captured, temporary directories and files.
 */
#ifndef MH_TESTS_MAPIHTTPD_PROC_H
#define MH_TESTS_MAPIHTTPD_PROC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Nothing here uses cmocka, so the benchmark links it too: every call returns 0 or a result,
 * and -1 or NULL with a one-line "mh_test: ..." message on stderr; callers assert on that.
 */

/* A running mapihttpd. */
typedef struct mh_test_server {
	pid_t pid;          /* 0 once stopped */
	int out;            /* read end of its stdout; -1 once stopped */
	char url[512];      /* its base URL, from the listening line */
	char err_path[300]; /* its stderr: <dir>/stderr.log */
	char dir[256];      /* a temporary directory of its own */
	char cert[300];     /* HTTPS: its self-signed certificate (the client's CA file); or "" */
	char key[300];      /* HTTPS: its private key */
} mh_test_server;

/*
 * Starts binary with --listen 127.0.0.1:0, --sample unless extra (NULL-terminated, may be
 * NULL) names an organisation (--org, --generate or --db), then extra. Its stdin is /dev/null,
 * its stderr s->err_path. Waits up to 20 s for the listening line and sets s->url from it.
 * On failure the child is gone, its stderr has been copied to ours and the directory removed.
 */
int mh_test_server_start(mh_test_server *s, const char *binary, const char *const *extra);

/*
 * As mh_test_server_start, serving HTTPS with a new self-signed certificate for 127.0.0.1
 * (s->cert, s->key in s->dir). Returns 1, with nothing left behind, when openssl(1) could not
 * make the certificate (the caller skips).
 */
int mh_test_server_start_https(mh_test_server *s, const char *binary, const char *const *extra);

/*
 * Sends sig and waits up to 10 s (then SIGKILL). Returns the exit status, 128 + the signal
 * that ended it, or -1 when it had to be killed or was not running. Keeps s->dir.
 */
int mh_test_server_stop(mh_test_server *s, int sig);

/* Kills the server if it still runs and removes its directory; safe on a zeroed struct. */
void mh_test_server_cleanup(mh_test_server *s);

/* A program run to completion. */
typedef struct mh_test_run_result {
	int status; /* exit status, or 128 + signal */
	char *out;  /* all of its stdout, NUL-terminated */
	char *err;  /* all of its stderr */
} mh_test_run_result;

/*
 * Runs binary with args (after argv[0]; NULL-terminated) and waits for it. envp NULL means
 * this process's environment; stdin_text NULL means /dev/null. r->out and r->err are freed
 * by mh_test_run_result_free(), also after a failure.
 */
int mh_test_run(mh_test_run_result *r, const char *binary, const char *const *args,
                char *const *envp, const char *stdin_text);
void mh_test_run_result_free(mh_test_run_result *r);

/*
 * This process's environment without the variables whose "NAME=value" starts with one of
 * drop (NULL-terminated prefixes such as "MAPIHTTP_", may be NULL) or that extra sets, then
 * extra (NULL-terminated "NAME=value" strings, may be NULL): an envp for mh_test_run, so a
 * tool under test sees no credential of the developer's shell. Free with mh_test_env_free.
 */
char **mh_test_env(const char *const *drop, const char *const *extra);
void mh_test_env_free(char **envp);

/* A new directory under $TMPDIR (or /tmp), its path in out. */
int mh_test_make_temp_dir(char *out, size_t cap);

/* Removes dir and everything under it; a missing dir is not an error. */
int mh_test_remove_dir(const char *dir);

/* Writes all n bytes of p to fd, going on after EINTR and short writes. */
int mh_test_write_all(int fd, const void *p, size_t n);

/* The whole file or the whole of fd (from offset 0), NUL-terminated, malloc'd; NULL on error. */
char *mh_test_slurp_file(const char *path);
char *mh_test_slurp_fd(int fd);

/*
 * A self-signed certificate for 127.0.0.1 made with openssl(1): <dir>/cert.pem and
 * <dir>/key.pem, their paths in cert and key. -1 when openssl is missing or fails.
 */
int mh_test_make_cert(const char *dir, char *cert, char *key, size_t cap);

#endif
