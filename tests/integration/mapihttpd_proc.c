/*
 * Child processes for the integration tests and the server benchmark: mapihttpd on a free port,
 * a program run to completion with its output captured, temporary directories and files.
 */
#define _XOPEN_SOURCE   700 /* nftw */
#define _DEFAULT_SOURCE     /* mkdtemp, strdup */

#include "mapihttpd_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char listening[] = "mapihttpd: listening on ";

/* argv for posix_spawn, which wants it writable: copies of first and args. */
static char **argv_copy(const char *first, const char *const *args)
{
	size_t n = 0;
	while (args != NULL && args[n] != NULL)
		n++;
	char **argv = calloc(n + 2, sizeof(*argv));
	if (argv == NULL)
		return NULL;
	argv[0] = strdup(first);
	bool ok = argv[0] != NULL;
	for (size_t i = 0; i < n; i++) {
		argv[i + 1] = strdup(args[i]);
		ok = ok && argv[i + 1] != NULL;
	}
	if (ok)
		return argv;
	for (size_t i = 0; i <= n; i++)
		free(argv[i]);
	free(argv);
	return NULL;
}

static void argv_free(char **argv)
{
	for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static int status_of(int wstatus)
{
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

int mh_test_make_temp_dir(char *out, size_t cap)
{
	const char *t = getenv("TMPDIR");
	int n = snprintf(out, cap, "%s/mh_test_XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
	if (n < 0 || (size_t)n >= cap) {
		fprintf(stderr, "mh_test: the temporary directory's path is too long\n");
		return -1;
	}
	if (mkdtemp(out) == NULL) {
		fprintf(stderr, "mh_test: mkdtemp %s: %s\n", out, strerror(errno));
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (remove(path) == 0 || errno == ENOENT)
		return 0;
	fprintf(stderr, "mh_test: cannot remove %s: %s (%d)\n", path, strerror(errno), flag);
	return -1;
}

int mh_test_remove_dir(const char *dir)
{
	struct stat sb;
	if (lstat(dir, &sb) != 0 && errno == ENOENT)
		return 0;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* The rest of fd from where it stands, NUL-terminated. */
static char *read_all(int fd, const char *what)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	while (buf != NULL) {
		if (cap - len < 2) {
			char *bigger = realloc(buf, cap * 2);
			if (bigger == NULL)
				break;
			buf = bigger;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "mh_test: read %s: %s\n", what, strerror(errno));
			free(buf);
			return NULL;
		}
		if (got == 0) {
			buf[len] = '\0';
			return buf;
		}
		len += (size_t)got;
	}
	free(buf);
	fprintf(stderr, "mh_test: out of memory reading %s\n", what);
	return NULL;
}

char *mh_test_slurp_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mh_test: open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char *text = read_all(fd, path);
	close(fd);
	return text;
}

char *mh_test_slurp_fd(int fd)
{
	if (lseek(fd, 0, SEEK_SET) != 0) {
		fprintf(stderr, "mh_test: lseek: %s\n", strerror(errno));
		return NULL;
	}
	return read_all(fd, "a captured stream");
}

/* ---- mapihttpd ----------------------------------------------------------------------------- */

/* The first line of fd, within 20 s; false on end of file, an error or the time limit. */
static bool read_first_line(int fd, char *line, size_t cap)
{
	size_t n = 0;
	time_t until = time(NULL) + 20;
	while (n + 1 < cap && time(NULL) < until) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 500) <= 0)
			continue;
		char ch;
		if (read(fd, &ch, 1) != 1)
			return false;
		if (ch == '\n') {
			line[n] = '\0';
			return true;
		}
		line[n++] = ch;
	}
	return false;
}

static bool names_organisation(const char *const *extra)
{
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
		if (strcmp(extra[i], "--org") == 0 || strcmp(extra[i], "--generate") == 0 ||
		    strcmp(extra[i], "--db") == 0)
			return true;
	return false;
}

/* Spawns binary with its stdout on a new pipe (s->out) and its stderr in s->err_path. */
static int spawn_server(mh_test_server *s, const char *binary, const char *const *extra)
{
	const char *args[64];
	size_t n = 0;
	args[n++] = "--listen";
	args[n++] = "127.0.0.1:0";
	if (!names_organisation(extra))
		args[n++] = "--sample";
	if (s->cert[0] != '\0') {
		args[n++] = "--tls-cert";
		args[n++] = s->cert;
		args[n++] = "--tls-key";
		args[n++] = s->key;
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (n + 1 == sizeof(args) / sizeof(args[0])) {
			fprintf(stderr, "mh_test: too many arguments for %s\n", binary);
			return -1;
		}
		args[n++] = extra[i];
	}
	args[n] = NULL;
	char **argv = argv_copy(binary, args);
	int pipefd[2];
	if (argv == NULL || pipe(pipefd) != 0) {
		fprintf(stderr, "mh_test: cannot prepare %s: %s\n", binary, strerror(errno));
		argv_free(argv);
		return -1;
	}
	/* Another server started later must not inherit this one's pipe. */
	fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);
	fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
	posix_spawn_file_actions_t fa;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0) {
		rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		if (rc == 0)
			rc = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
		if (rc == 0)
			rc = posix_spawn_file_actions_addopen(&fa, 2, s->err_path,
			                                      O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (rc == 0)
			rc = posix_spawn(&s->pid, binary, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	argv_free(argv);
	close(pipefd[1]);
	if (rc != 0) {
		fprintf(stderr, "mh_test: cannot start %s: %s\n", binary, strerror(rc));
		close(pipefd[0]);
		s->pid = 0;
		return -1;
	}
	s->out = pipefd[0];
	return 0;
}

static int server_start(mh_test_server *s, const char *binary, const char *const *extra, bool https)
{
	memset(s, 0, sizeof(*s));
	s->out = -1;
	if (mh_test_make_temp_dir(s->dir, sizeof(s->dir)) != 0) {
		s->dir[0] = '\0';
		return -1;
	}
	snprintf(s->err_path, sizeof(s->err_path), "%s/stderr.log", s->dir);
	if (https && mh_test_make_cert(s->dir, s->cert, s->key, sizeof(s->cert)) != 0) {
		mh_test_server_cleanup(s);
		return 1;
	}
	char line[512];
	if (spawn_server(s, binary, extra) == 0 && read_first_line(s->out, line, sizeof(line)) &&
	    strncmp(line, listening, sizeof(listening) - 1) == 0) {
		snprintf(s->url, sizeof(s->url), "%s", line + sizeof(listening) - 1);
		return 0;
	}
	if (s->pid > 0) {
		int st = mh_test_server_stop(s, SIGKILL);
		fprintf(stderr, "mh_test: %s printed no listening line (exit status %d)\n", binary,
		        st);
	}
	char *log = mh_test_slurp_file(s->err_path);
	if (log != NULL && log[0] != '\0')
		fprintf(stderr, "its stderr:\n%s\n", log);
	free(log);
	mh_test_server_cleanup(s);
	return -1;
}

int mh_test_server_start(mh_test_server *s, const char *binary, const char *const *extra)
{
	return server_start(s, binary, extra, false);
}

int mh_test_server_start_https(mh_test_server *s, const char *binary, const char *const *extra)
{
	return server_start(s, binary, extra, true);
}

int mh_test_server_stop(mh_test_server *s, int sig)
{
	if (s->pid <= 0)
		return -1;
	kill(s->pid, sig);
	int wstatus = 0;
	time_t until = time(NULL) + 10;
	pid_t got = 0;
	while ((got = waitpid(s->pid, &wstatus, WNOHANG)) == 0 && time(NULL) < until) {
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
	if (got == 0) {
		fprintf(stderr, "mh_test: pid %ld still runs 10 s after signal %d; killed\n",
		        (long)s->pid, sig);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &wstatus, 0);
	}
	s->pid = 0;
	if (s->out >= 0)
		close(s->out);
	s->out = -1;
	return got == 0 || got < 0 ? -1 : status_of(wstatus);
}

void mh_test_server_cleanup(mh_test_server *s)
{
	if (s->pid > 0)
		mh_test_server_stop(s, SIGKILL);
	if (s->dir[0] != '\0')
		mh_test_remove_dir(s->dir);
	s->dir[0] = '\0';
}

/* ---- a program run to completion ------------------------------------------------------------ */

/* An unlinked temporary file, open for reading and writing; -1 on error. */
static int temp_file(void)
{
	const char *t = getenv("TMPDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/mh_test_io_XXXXXX", t != NULL && *t != '\0' ? t : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "mh_test: mkstemp %s: %s\n", path, strerror(errno));
		return -1;
	}
	unlink(path);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

int mh_test_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Runs binary with in (or /dev/null), out and err as its stdin, stdout and stderr; an errno. */
static int spawn_and_wait(int *status, const char *binary, char *const *argv, char *const *envp,
                          int in, int out, int err)
{
	posix_spawn_file_actions_t fa;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc != 0)
		return rc;
	if (in >= 0)
		rc = posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, err, 2);
	pid_t pid = 0;
	/* A path with a slash is used as it is; a bare name ("openssl") is looked up. */
	if (rc == 0)
		rc = posix_spawnp(&pid, binary, &fa, NULL, argv, envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return rc;
	int wstatus = 0;
	pid_t got;
	while ((got = waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR)
		;
	if (got != pid)
		return errno;
	*status = status_of(wstatus);
	return 0;
}

int mh_test_run(mh_test_run_result *r, const char *binary, const char *const *args,
                char *const *envp, const char *stdin_text)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	int in = -1, out = temp_file(), err = temp_file(), rc = -1;
	char **argv = argv_copy(binary, args);
	if (out < 0 || err < 0 || argv == NULL)
		goto done;
	if (stdin_text != NULL) {
		in = temp_file();
		if (in < 0 || mh_test_write_all(in, stdin_text, strlen(stdin_text)) != 0 ||
		    lseek(in, 0, SEEK_SET) != 0) {
			fprintf(stderr, "mh_test: cannot prepare stdin for %s\n", binary);
			goto done;
		}
	}
	int e = spawn_and_wait(&r->status, binary, argv, envp, in, out, err);
	if (e != 0) {
		fprintf(stderr, "mh_test: cannot run %s: %s\n", binary, strerror(e));
		goto done;
	}
	r->out = mh_test_slurp_fd(out);
	r->err = mh_test_slurp_fd(err);
	if (r->out != NULL && r->err != NULL)
		rc = 0;
done:
	argv_free(argv);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return rc;
}

void mh_test_run_result_free(mh_test_run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = NULL;
	r->err = NULL;
}

int mh_test_make_cert(const char *dir, char *cert, char *key, size_t cap)
{
	snprintf(cert, cap, "%s/cert.pem", dir);
	snprintf(key, cap, "%s/key.pem", dir);
	const char *const args[] = {"req",
	                            "-x509",
	                            "-newkey",
	                            "rsa:2048",
	                            "-nodes",
	                            "-days",
	                            "2",
	                            "-subj",
	                            "/CN=127.0.0.1",
	                            "-addext",
	                            "subjectAltName=IP:127.0.0.1",
	                            "-keyout",
	                            key,
	                            "-out",
	                            cert,
	                            NULL};
	mh_test_run_result r;
	int rc = mh_test_run(&r, "openssl", args, NULL, NULL);
	if (rc == 0 && r.status != 0) {
		fprintf(stderr, "mh_test: openssl req exited with %d: %s", r.status, r.err);
		rc = -1;
	}
	mh_test_run_result_free(&r);
	return rc;
}

static bool env_dropped(const char *var, const char *const *drop, const char *const *extra)
{
	for (size_t j = 0; drop != NULL && drop[j] != NULL; j++)
		if (strncmp(var, drop[j], strlen(drop[j])) == 0)
			return true;
	for (size_t j = 0; extra != NULL && extra[j] != NULL; j++) {
		size_t n = strcspn(extra[j], "=") + 1;
		if (strncmp(var, extra[j], n) == 0)
			return true;
	}
	return false;
}

char **mh_test_env(const char *const *drop, const char *const *extra)
{
	size_t nenv = 0, nextra = 0;
	while (environ[nenv] != NULL)
		nenv++;
	while (extra != NULL && extra[nextra] != NULL)
		nextra++;
	char **envp = calloc(nenv + nextra + 1, sizeof(*envp));
	if (envp == NULL) {
		fprintf(stderr, "mh_test: out of memory\n");
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < nenv + nextra; i++) {
		const char *v = i < nenv ? environ[i] : extra[i - nenv];
		if (i < nenv && env_dropped(v, drop, extra))
			continue;
		if ((envp[k] = strdup(v)) == NULL) {
			fprintf(stderr, "mh_test: out of memory\n");
			mh_test_env_free(envp); /* envp[k] is NULL: frees what came before */
			return NULL;
		}
		k++;
	}
	return envp;
}

void mh_test_env_free(char **envp)
{
	if (envp == NULL)
		return;
	for (size_t i = 0; envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}
