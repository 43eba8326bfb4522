/*
 * Unit tests for lib/stats.c: the file a daemon writes is what a reader
 * sees (header, listener names, counters, gauges, histogram buckets),
 * a live writer shows up, a dead one does not, and a file of another
 * layout or a damaged one is refused.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"
#include "unit.h"

static void
check_table(void)
{
	size_t		 off[ST_NMETRICS], i, n[STATS_NDAEMONS];
	uint64_t	 h[STATS_NDAEMONS];
	int		 d;

	for (d = 0; d < STATS_NDAEMONS; d++)
		n[d] = stats_layout(d, off, &h[d]);
	for (d = 1; d < STATS_NDAEMONS; d++)
		CHECK(h[d] != h[0]);
	/* Every metric belongs to one daemon and follows the naming. */
	for (i = 0; i < ST_NMETRICS; i++) {
		const struct stats_metric *m = stats_metric(i);
		size_t	 len = strlen(m->name);

		CHECKF(strncmp(m->name, "tsamba_", 7) == 0, "%s", m->name);
		if (m->type == STATS_COUNTER)
			CHECKF(len > 6 && strcmp(m->name + len - 6,
			    "_total") == 0, "%s", m->name);
		else
			CHECKF(len < 6 || strcmp(m->name + len - 6,
			    "_total") != 0, "%s", m->name);
		CHECK(m->help[0] != '\0');
		stats_layout(m->daemon, off, NULL);
		CHECK(off[i] < n[m->daemon]);
	}
	CHECK(stats_label_index(SL_TLS, "TLSv1.3") == 3);
	CHECK(stats_label_index(SL_TLS, "SSLv3") == 4);
	CHECK(stats_label_index(SL_TLS, "TLSv1.2 ECDHE-RSA-AES128") == 2);
	CHECK(stats_label_index(SL_TLS, "TLSv1") == 0);
	CHECK(stats_label_index(SL_SERVICE, "SMTP") == 0);
	CHECK(stats_label_index(SL_SERVICE, NULL) == 3);
	CHECK(stats_listener_slot(3) == 3);
	CHECK(stats_listener_slot(1000) == STATS_LISTENERS - 1);
	CHECK(sizeof(struct stats_header) % 8 == 0);
}

static void
check_roundtrip(const char *dir, int dirfd)
{
	static const char *const names[] = { "smtp:25", "submission:587" };
	struct stats_view	 v;
	struct stat		 st;
	char			 err[256], path[PATH_MAX];
	int			 fd;

	stats_open(dir, STATS_SMTPD, names, 2);
	stats_inc(ST_SMTP_CONNECTIONS, 1);
	stats_inc(ST_SMTP_CONNECTIONS, 1);
	stats_inc(ST_SMTP_CONNECTIONS, 0);
	stats_inc(ST_SMTP_SESSIONS, 1);
	stats_inc(ST_SMTP_SESSIONS, 1);
	stats_dec(ST_SMTP_SESSIONS, 1);
	stats_inc(ST_SMTP_TLS, stats_label_index(SL_TLS, "TLSv1.2"));
	/* Another daemon's metric or a label out of range: no harm. */
	stats_inc(ST_QUEUE_MESSAGES, 0);
	stats_inc(ST_SMTP_RECEIVED, 1000);

	CHECK(stats_view_open(dirfd, STATS_SMTPD, &v, err, sizeof(err)) == 0);
	if (v.hdr == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK(v.up == 1);
	CHECK(v.hdr->pid == getpid());
	CHECK(strcmp(v.hdr->daemon, "smtpd") == 0);
	CHECK(v.hdr->start_time > 0 && v.hdr->reload_time == 0);
	CHECK(stats_view_get(&v, ST_SMTP_CONNECTIONS, 1, 0) == 2);
	CHECK(stats_view_get(&v, ST_SMTP_CONNECTIONS, 0, 0) == 1);
	CHECK(stats_view_sum(&v, ST_SMTP_CONNECTIONS) == 3);
	CHECK(stats_view_sum(&v, ST_SMTP_SESSIONS) == 1);
	CHECK(stats_view_get(&v, ST_SMTP_TLS, 2, 0) == 1);
	CHECK(stats_view_get(&v, ST_SMTP_RECEIVED, STATS_LISTENERS - 1, 0) ==
	    1);
	CHECK(strcmp(stats_view_listener(&v, 0), "smtp:25") == 0);
	CHECK(strcmp(stats_view_listener(&v, 1), "submission:587") == 0);
	CHECK(stats_view_listener(&v, 2) == NULL);
	/* Not this daemon's metric: nothing. */
	CHECK(stats_view_get(&v, ST_QUEUE_MESSAGES, 0, 0) == 0);

	stats_reloaded();
	stats_view_close(&v);
	/* A view is a copy: a fresh one sees what the writer did since. */
	CHECK(stats_view_open(dirfd, STATS_SMTPD, &v, err, sizeof(err)) == 0);
	CHECK(v.hdr != NULL && v.hdr->reload_time > 0 &&
	    v.hdr->generation == 1);

	stats_view_close(&v);

	/* A listener name with a newline and a non-UTF-8 byte. */
	snprintf(path, sizeof(path), "%s/%s/smtpd.stats", dir, STATS_DIR);
	fd = open(path, O_WRONLY);
	CHECK(fd != -1 && pwrite(fd, "a\nb\xff\"c", 7,
	    offsetof(struct stats_header, listeners[1])) == 7);
	close(fd);
	CHECK(stats_view_open(dirfd, STATS_SMTPD, &v, err, sizeof(err)) == 0);
	CHECK(v.hdr != NULL && strcmp(stats_view_listener(&v, 1),
	    "a?b?\"c") == 0);

	/*
	 * A writer that truncates its file (a compromised engine holds
	 * it): the reader's view holds on, no SIGBUS, and the file is
	 * refused from then on.
	 */
	snprintf(path, sizeof(path), "%s/%s/smtpd.stats", dir, STATS_DIR);
	CHECK(truncate(path, 0) == 0);
	CHECK(stats_view_get(&v, ST_SMTP_CONNECTIONS, 1, 0) == 2);
	CHECK(strcmp(stats_view_listener(&v, 0), "smtp:25") == 0);
	CHECK(stats_view_sum(&v, ST_SMTP_SESSIONS) == 1);
	stats_view_close(&v);
	CHECK(stats_view_open(dirfd, STATS_SMTPD, &v, err, sizeof(err)) ==
	    -1);
	/* The file the other checks expect. */
	stats_open(dir, STATS_SMTPD, names, 2);

	/* 0644: the counters are not secrets; no temporary file left. */
	snprintf(path, sizeof(path), "%s/%s/smtpd.stats", dir, STATS_DIR);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);
	snprintf(path, sizeof(path), "%s/%s/.smtpd.%ld", dir, STATS_DIR,
	    (long)getpid());
	CHECK(stat(path, &st) == -1);
}

/* Histogram: buckets apart in the file, sum in microseconds. */
static void
check_histogram(const char *dir, int dirfd)
{
	struct stats_view	 v;
	char			 err[256];
	pid_t			 pid;
	int			 status;
	size_t			 nb = stats_bucket_count(SB_DELIVERY);

	/* The queue's file, written by a child that then exits. */
	if ((pid = fork()) == 0) {
		stats_open(dir, STATS_QUEUE, NULL, 0);
		stats_observe(ST_QUEUE_DELIVERY_TIME, 0, 500000);  /* 0.5 s */
		stats_observe(ST_QUEUE_DELIVERY_TIME, 0, 7000000); /* 7 s */
		stats_observe(ST_QUEUE_DELIVERY_TIME, 0, 1ULL << 40);
		stats_set(ST_QUEUE_MESSAGES, 0, 42);
		stats_set(ST_QUEUE_OLDEST, 0, 1000);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && status == 0);
	CHECK(stats_view_open(dirfd, STATS_QUEUE, &v, err, sizeof(err)) == 0);
	if (v.hdr == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	/* Its writer is gone: down, the last figures still readable. */
	CHECK(v.up == 0);
	CHECK(stats_bucket_bound(SB_DELIVERY, 0) == 1000000);
	CHECK(stats_view_get(&v, ST_QUEUE_DELIVERY_TIME, 0, 0) == 1);
	CHECK(stats_view_get(&v, ST_QUEUE_DELIVERY_TIME, 0, 2) == 1);
	CHECK(stats_view_get(&v, ST_QUEUE_DELIVERY_TIME, 0, nb) == 1);
	CHECK(stats_view_get(&v, ST_QUEUE_DELIVERY_TIME, 0, nb + 1) ==
	    500000 + 7000000 + (1ULL << 40));
	CHECK(stats_view_get(&v, ST_QUEUE_MESSAGES, 0, 0) == 42);
	CHECK(stats_view_get(&v, ST_QUEUE_OLDEST, 0, 0) == 1000);
	stats_view_close(&v);
}

/* Damaged or foreign files are refused, with a reason. */
static void
check_refused(const char *dir, int dirfd)
{
	struct stats_view	 v;
	char			 path[PATH_MAX], err[256], junk[4096];
	int			 fd;

	CHECK(stats_view_open(dirfd, STATS_AUTHD, &v, err, sizeof(err)) ==
	    -1);
	CHECK(strstr(err, "authd.stats") != NULL);

	snprintf(path, sizeof(path), "%s/%s/lmtpd.stats", dir, STATS_DIR);
	memset(junk, 'x', sizeof(junk));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd != -1 && write(fd, junk, sizeof(junk)) == sizeof(junk));
	close(fd);
	CHECK(stats_view_open(dirfd, STATS_LMTPD, &v, err, sizeof(err)) ==
	    -1);
	CHECK(strstr(err, "layout") != NULL);

	/* A file of smtpd is not taken as authd's. */
	snprintf(junk, sizeof(junk), "%s/%s/smtpd.stats", dir, STATS_DIR);
	snprintf(path, sizeof(path), "%s/%s/authd.stats", dir, STATS_DIR);
	CHECK(link(junk, path) == 0);
	CHECK(stats_view_open(dirfd, STATS_AUTHD, &v, err, sizeof(err)) ==
	    -1);
	/* Too short for a header. */
	snprintf(path, sizeof(path), "%s/%s/lmtpd.stats", dir, STATS_DIR);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd != -1 && write(fd, "TSAMB", 5) == 5);
	close(fd);
	CHECK(stats_view_open(dirfd, STATS_LMTPD, &v, err, sizeof(err)) ==
	    -1);
}

int
main(void)
{
	char	 tmpl[] = "/tmp/test_stats.XXXXXX", dir[PATH_MAX];
	char	 cmd[PATH_MAX + 32];
	int	 dirfd;

	check_table();
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", tmpl, STATS_DIR);
	if (mkdir(dir, 0755) == -1 ||
	    (dirfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1) {
		perror(dir);
		return 1;
	}
	check_roundtrip(tmpl, dirfd);
	check_histogram(tmpl, dirfd);
	check_refused(tmpl, dirfd);
	close(dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpl);
	return unit_done("test_stats");
}
