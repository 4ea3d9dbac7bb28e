/*
 * `mapihttp scan --archives` over every mailbox of mapihttpd --generate 1000,20 at several
 * concurrencies: mailboxes per second, HTTP requests per mailbox (from the server's log), the
 * client's CPU per request and peak RSS, and the server's CPU beside the client's.
 */
#define _DEFAULT_SOURCE /* wait4 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mapihttpd_proc.h"

#ifndef MH_SERVER_PATH
#error "MH_SERVER_PATH must name the mapihttpd binary"
#endif
#ifndef MH_CLI_PATH
#error "MH_CLI_PATH must name the mapihttp binary"
#endif

#define DEFAULT_USERS    1000u
#define DEFAULT_MESSAGES 20u
#define SVC              "svc@example.test"
#define SVC_PASS         "Svc-Pass-1"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
static double proc_cpu_s(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	char *text = mh_test_slurp_file(path);
	if (text == NULL)
		return -1;
	/* The command name may hold spaces: count fields after its closing parenthesis. */
	const char *p = strrchr(text, ')');
	unsigned long long ut = 0, st = 0;
	int field = 2;
	while (p != NULL && *p != '\0' && field < 15) {
		p = strchr(p, ' ');
		if (p == NULL)
			break;
		p++;
		field++;
		if (field == 14)
			ut = strtoull(p, NULL, 10);
		else if (field == 15)
			st = strtoull(p, NULL, 10);
	}
	free(text);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Lines of the server's request log (each request is one line once it has ended). */
static unsigned long log_lines(const char *path)
{
	char *text = mh_test_slurp_file(path);
	if (text == NULL)
		return 0;
	unsigned long n = 0;
	for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	free(text);
	return n;
}

/* The count once it stops moving: the server logs a request after its answer is sent. */
static unsigned long settled_log_lines(const char *path)
{
	unsigned long last = log_lines(path);
	for (int i = 0; i < 50; i++) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		unsigned long n = log_lines(path);
		if (n == last)
			return n;
		last = n;
	}
	return last;
}

typedef struct run {
	int status;
	double wall_s;
	struct rusage ru;
	unsigned long results, failed;
} run;

/* Runs the scan as a child: stdout into out_path; its rusage from wait4. */
static int run_scan(const char *ad_url, const char *list, unsigned concurrency,
                    const char *out_path, run *r)
{
	char conc[16], cli[] = MH_CLI_PATH, url[600], mailboxes[400];
	snprintf(conc, sizeof(conc), "%u", concurrency);
	snprintf(url, sizeof(url), "%s", ad_url);
	snprintf(mailboxes, sizeof(mailboxes), "%s", list);
	char *const argv[] = {cli,  "scan",        "--user",  SVC,          "--autodiscover-url",
	                      url,  "--mailboxes", mailboxes, "--archives", "--concurrency",
	                      conc, NULL};
	char *const envp[] = {"MAPIHTTP_PASSWORD=" SVC_PASS, NULL};
	memset(r, 0, sizeof(*r));
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDWR);
		if (out < 0 || null < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execve(MH_CLI_PATH, argv, envp);
		_exit(127);
	}
	int wst;
	while (wait4(pid, &wst, 0, &r->ru) < 0)
		if (errno != EINTR)
			return -1;
	r->wall_s = now_s() - t0;
	r->status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	char *text = mh_test_slurp_file(out_path);
	if (text == NULL)
		return -1;
	for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++)
		r->results++;
	for (const char *p = text; (p = strstr(p, "\"error\":")) != NULL; p++)
		r->failed++;
	free(text);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned users = DEFAULT_USERS, messages = DEFAULT_MESSAGES;
	if (argc > 1)
		users = (unsigned)strtoul(argv[1], NULL, 10);
	if (argc > 2)
		messages = (unsigned)strtoul(argv[2], NULL, 10);
	if (users == 0 || users > 99999) {
		fprintf(stderr, "usage: bench_scan [USERS [MESSAGES]]\n");
		return 2;
	}
	static const unsigned conc[] = {1, 8, 32, 64};
	char gen[32];
	snprintf(gen, sizeof(gen), "%u,%u", users, messages);
	/* Room for 64 scan contexts, the session's own and the address book's per user. */
	const char *extra[] = {"--generate", gen, "--max-contexts-per-user", "1000", NULL};
	mh_test_server srv;
	memset(&srv, 0, sizeof(srv));
	double t0 = now_s();
	if (mh_test_server_start(&srv, MH_SERVER_PATH, extra) != 0)
		return 1;
	printf("mapihttpd --generate %s: started in %.1f s at %s\n", gen, now_s() - t0, srv.url);

	char list[400], out[400], ad_url[600];
	snprintf(list, sizeof(list), "%s/mailboxes.txt", srv.dir);
	snprintf(out, sizeof(out), "%s/scan.ndjson", srv.dir);
	snprintf(ad_url, sizeof(ad_url), "%s/autodiscover/autodiscover.xml", srv.url);
	FILE *lf = fopen(list, "w");
	if (lf == NULL) {
		mh_test_server_cleanup(&srv);
		return 1;
	}
	for (unsigned i = 1; i <= users; i++)
		fprintf(lf, "user%05u@example.test\n", i);
	fclose(lf);

	/* cli_cpu_s is user + system; on loopback the system part includes delivering the
	 * client's packets to the server, so cli_usr_s is shown too. */
	printf("%5s %8s %7s %8s %9s %8s %11s %8s %10s %10s %10s %8s\n", "conc", "records", "failed",
	       "mbox/s", "req/mbox", "req/rec", "cli_us/req", "rss_MiB", "cli_cpu_s", "cli_usr_s",
	       "srv_cpu_s", "cli/srv");
	int rc = 0;
	for (size_t k = 0; k < sizeof(conc) / sizeof(conc[0]); k++) {
		unsigned long lines0 = settled_log_lines(srv.err_path);
		double srv0 = proc_cpu_s(srv.pid);
		run r;
		if (run_scan(ad_url, list, conc[k], out, &r) != 0) {
			rc = 1;
			break;
		}
		unsigned long lines1 = settled_log_lines(srv.err_path);
		double srv1 = proc_cpu_s(srv.pid);
		unsigned long requests = lines1 - lines0;
		double cli_usr = (double)r.ru.ru_utime.tv_sec + (double)r.ru.ru_utime.tv_usec / 1e6;
		double cli_cpu =
		    cli_usr + (double)r.ru.ru_stime.tv_sec + (double)r.ru.ru_stime.tv_usec / 1e6;
		double srv_cpu = srv1 - srv0;
		printf(
		    "%5u %8lu %7lu %8.1f %9.2f %8.2f %11.1f %8.1f %10.2f %10.2f %10.2f %8.3f%s\n",
		    conc[k], r.results, r.failed, (double)users / r.wall_s,
		    (double)requests / users, r.results > 0 ? (double)requests / r.results : 0.0,
		    requests > 0 ? cli_cpu * 1e6 / (double)requests : 0.0,
		    (double)r.ru.ru_maxrss / 1024.0, cli_cpu, cli_usr, srv_cpu,
		    srv_cpu > 0 ? cli_cpu / srv_cpu : 0.0, r.status == 0 ? "" : "  (exit != 0)");
		fflush(stdout);
		if (r.status != 0)
			rc = 1;
	}
	mh_test_server_stop(&srv, SIGTERM);
	mh_test_server_cleanup(&srv);
	return rc;
}
