/*
 * tsambactl status [-j]: each daemon, whether it runs, its pid, uptime,
 * current sessions, the queue, the last reload.  The figures come from
 * the stats files (lib/stats.h) in <rundir>/stats, the same the metrics
 * endpoint reads, so status asks no daemon for them and works while a
 * daemon is busy; a daemon is "running" when its file is held by a live
 * process and, for authd and the queue, their control socket answers
 * the imsg hello (only root may ask: another user sees "no answer").
 * imapd is listed when the configuration has an imap or pop3 listener,
 * or when it runs anyway.  Under the table, the smtpd's inbound check
 * verdicts and milter actions so far (only those not 0; JSON has all).
 * Exit status 0 when every daemon listed runs, 1 otherwise.
 */

#include <sys/types.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "stats.h"
#include "timefmt.h"
#include "ctl.h"

#define STATS_LABELS_MAX	16	/* values of the labels shown */

enum status_state {
	ST_RUNNING,
	ST_NOANSWER,	/* the file is held, the control socket is silent */
	ST_STOPPED,	/* no file, or nobody holds it */
	ST_UNKNOWN,	/* a file of another version */
};

static const char *const state_names[] = {
	"running", "no answer", "stopped", "unknown"
};

struct status_row {
	enum stats_daemon	 daemon;
	enum status_state	 state;
	char			 why[128];
	long long		 pid;
	time_t			 start, reload;
	unsigned long long	 reloads;
	long long		 sessions;	/* -1: not this daemon's */
	long long		 queued;	/* -1: not this daemon's */
	long long		 oldest;	/* seconds, -1: none */
	int			 hidden;	/* not configured, not up */
	/* smtpd: the inbound checks' verdicts and the milters' actions. */
	unsigned long long	 verdicts[STATS_LABELS_MAX];
	unsigned long long	 milter[STATS_LABELS_MAX];
};

/* The control socket answers the hello: the daemon serves requests. */
static int
answers(enum stats_daemon d)
{
	struct ctl_imsg	 ci;

	switch (d) {
	case STATS_AUTHD:
		if (ctl_imsg_open(&ci, ctl_conf(), "authd.control.sock",
		    "tsamba-authd", ctl_hello_types) == -1)
			return 0;
		break;
	case STATS_QUEUE:
		if (ctl_imsg_open(&ci, ctl_conf(), "queue.control.sock",
		    "tsamba-queue", ctl_hello_types) == -1)
			return 0;
		break;
	case STATS_IMAPD:
		if (ctl_imsg_open(&ci, ctl_conf(), "imapd.control.sock",
		    "tsamba-imapd", ctl_hello_types) == -1)
			return 0;
		break;
	default:
		return 1;	/* no control socket: the lock says it all */
	}
	ctl_imsg_close(&ci);
	return 1;
}

/* Each label value of a counter, in the order of its label set. */
static void
read_counts(const struct stats_view *v, enum stats_id id,
    unsigned long long *out)
{
	size_t	 i, n = stats_label_count(stats_metric(id)->labels);

	for (i = 0; i < n && i < STATS_LABELS_MAX; i++)
		out[i] = stats_view_get(v, id, i, 0);
}

/* " accept 3 reject 1": the nonzero ones, as text; 0 if all are 0. */
static int
counts_text(enum stats_id id, const unsigned long long *c, char *buf,
    size_t bufsz)
{
	enum stats_labels	 l = stats_metric(id)->labels;
	size_t			 i, n = stats_label_count(l);
	char			 one[64];
	int			 any = 0;

	buf[0] = '\0';
	for (i = 0; i < n && i < STATS_LABELS_MAX; i++) {
		if (c[i] == 0)
			continue;
		snprintf(one, sizeof(one), " %s %llu",
		    stats_label_value(l, i), c[i]);
		strlcat(buf, one, bufsz);
		any = 1;
	}
	return any;
}

/* "{"accept": 3, ...}": every value of the label. */
static void
counts_json(const char *key, enum stats_id id, const unsigned long long *c)
{
	enum stats_labels	 l = stats_metric(id)->labels;
	size_t			 i, n = stats_label_count(l);

	printf(", \"%s\": {", key);
	for (i = 0; i < n && i < STATS_LABELS_MAX; i++)
		printf("%s\"%s\": %llu", i ? ", " : "",
		    stats_label_value(l, i), c[i]);
	printf("}");
}

static void
status_read(int dirfd, enum stats_daemon d, struct status_row *r, time_t now)
{
	struct stats_view	 v;
	time_t			 t;

	memset(r, 0, sizeof(*r));
	r->daemon = d;
	r->sessions = r->queued = r->oldest = -1;
	if (dirfd == -1 ||
	    stats_view_open(dirfd, d, &v, r->why, sizeof(r->why)) == -1) {
		r->state = (dirfd != -1 && strstr(r->why, "layout")) ?
		    ST_UNKNOWN : ST_STOPPED;
		return;
	}
	if (!v.up) {
		r->state = ST_STOPPED;
		stats_view_close(&v);
		return;
	}
	r->pid = v.hdr->pid;
	r->start = v.hdr->start_time;
	r->reload = v.hdr->reload_time;
	r->reloads = v.hdr->generation;
	if (d == STATS_SMTPD) {
		r->sessions = stats_view_sum(&v, ST_SMTP_SESSIONS);
		read_counts(&v, ST_CHECK_ACTIONS, r->verdicts);
		read_counts(&v, ST_MILTER_ACTIONS, r->milter);
	}
	else if (d == STATS_LMTPD)
		r->sessions = stats_view_sum(&v, ST_LMTP_SESSIONS);
	else if (d == STATS_IMAPD)
		r->sessions = stats_view_sum(&v, ST_IMAP_SESSIONS);
	if (d == STATS_QUEUE) {
		r->queued = stats_view_sum(&v, ST_QUEUE_MESSAGES);
		t = (time_t)stats_view_get(&v, ST_QUEUE_OLDEST, 0, 0);
		r->oldest = (t == 0 || t > now) ? -1 : now - t;
	}
	stats_view_close(&v);
	r->state = answers(d) ? ST_RUNNING : ST_NOANSWER;
}

/* A system without IMAP and POP3 does not miss tsamba-imapd. */
static int
imapd_configured(const struct conf *conf)
{
	return !TAILQ_EMPTY(&conf->imap_listens) ||
	    !TAILQ_EMPTY(&conf->pop3_listens);
}

/* "3d04h", "2h05m", "4m10s", "12s". */
static void
duration(long long s, char *buf, size_t bufsz)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, bufsz, "%lldd%02lldh", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, bufsz, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, bufsz, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, bufsz, "%llds", s);
}

static void	 print_counts(const struct status_row *);

static void
print_text(const struct status_row *rows, size_t n, time_t now)
{
	char	 up[32], sess[24], queue[64], old[32], rel[TIME_ISO8601_SIZE];
	size_t	 i;

	printf("%-7s %-10s %7s %9s %8s %-14s %s\n", "DAEMON", "STATE", "PID",
	    "UPTIME", "SESSIONS", "QUEUE", "LAST RELOAD");
	for (i = 0; i < n; i++) {
		const struct status_row	*r = &rows[i];

		if (r->hidden)
			continue;
		if (r->state == ST_STOPPED || r->state == ST_UNKNOWN) {
			printf("%-7s %-10s %7s %9s %8s %-14s %s\n",
			    stats_daemon_name(r->daemon),
			    state_names[r->state], "-", "-", "-", "-", "-");
			continue;
		}
		duration(now - r->start, up, sizeof(up));
		if (r->sessions >= 0)
			snprintf(sess, sizeof(sess), "%lld", r->sessions);
		else
			strlcpy(sess, "-", sizeof(sess));
		if (r->queued >= 0 && r->oldest >= 0) {
			duration(r->oldest, old, sizeof(old));
			snprintf(queue, sizeof(queue), "%lld (%s)", r->queued,
			    old);
		} else if (r->queued >= 0)
			snprintf(queue, sizeof(queue), "%lld", r->queued);
		else
			strlcpy(queue, "-", sizeof(queue));
		if (r->reload != 0)
			time_iso8601(r->reload, rel, sizeof(rel));
		else
			strlcpy(rel, "never", sizeof(rel));
		printf("%-7s %-10s %7lld %9s %8s %-14s %s\n",
		    stats_daemon_name(r->daemon), state_names[r->state],
		    r->pid, up, sess, queue, rel);
	}
	print_counts(&rows[STATS_SMTPD]);
}

/* Under the table, once the smtpd has judged or filtered anything. */
static void
print_counts(const struct status_row *r)
{
	char	 buf[512];

	if (r->state != ST_RUNNING && r->state != ST_NOANSWER)
		return;
	if (counts_text(ST_CHECK_ACTIONS, r->verdicts, buf, sizeof(buf)))
		printf("checks:%s\n", buf);
	if (counts_text(ST_MILTER_ACTIONS, r->milter, buf, sizeof(buf)))
		printf("milters:%s\n", buf);
}

static void
print_json(const struct status_row *rows, size_t n, time_t now)
{
	char	 t[TIME_ISO8601_SIZE];
	size_t	 i, shown = 0;

	printf("{\"daemons\": [");
	for (i = 0; i < n; i++) {
		const struct status_row	*r = &rows[i];

		if (r->hidden)
			continue;
		printf("%s\n  {\"name\": \"%s\", \"state\": \"%s\"",
		    shown++ > 0 ? "," : "", stats_daemon_name(r->daemon),
		    state_names[r->state]);
		if (r->state == ST_STOPPED || r->state == ST_UNKNOWN) {
			printf("}");
			continue;
		}
		time_iso8601(r->start, t, sizeof(t));
		printf(", \"pid\": %lld, \"started\": \"%s\", "
		    "\"uptime_seconds\": %lld", r->pid, t,
		    (long long)(now - r->start));
		if (r->reload != 0) {
			time_iso8601(r->reload, t, sizeof(t));
			printf(", \"last_reload\": \"%s\"", t);
		} else
			printf(", \"last_reload\": null");
		printf(", \"reloads\": %llu", r->reloads);
		if (r->sessions >= 0)
			printf(", \"sessions\": %lld", r->sessions);
		if (r->daemon == STATS_SMTPD) {
			counts_json("check_verdicts", ST_CHECK_ACTIONS,
			    r->verdicts);
			counts_json("milter_actions", ST_MILTER_ACTIONS,
			    r->milter);
		}
		if (r->queued >= 0) {
			printf(", \"queue_messages\": %lld", r->queued);
			if (r->oldest >= 0)
				printf(", \"queue_oldest_seconds\": %lld",
				    r->oldest);
			else
				printf(", \"queue_oldest_seconds\": null");
		}
		printf("}");
	}
	printf("\n]}\n");
}

int
cmd_status(int argc, char *argv[])
{
	struct status_row	 rows[STATS_NDAEMONS];
	char			 dir[PATH_MAX];
	time_t			 now = time(NULL);
	int			 ch, json = 0, dirfd, d, rv = 0;

	while ((ch = getopt(argc, argv, "j")) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		default:
			ctl_usage();
		}
	}
	if (optind != argc)
		ctl_usage();
	if (snprintf(dir, sizeof(dir), "%s/%s", ctl_conf()->rundir,
	    STATS_DIR) >= (int)sizeof(dir))
		ctl_errx("rundir too long");
	/* No directory: no daemon ever started here; all "stopped". */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (d = 0; d < STATS_NDAEMONS; d++) {
		status_read(dirfd, d, &rows[d], now);
		if (d == STATS_IMAPD && rows[d].state == ST_STOPPED &&
		    !imapd_configured(ctl_conf()))
			rows[d].hidden = 1;
		else if (rows[d].state != ST_RUNNING)
			rv = 1;
	}
	if (dirfd != -1)
		close(dirfd);
	if (json)
		print_json(rows, STATS_NDAEMONS, now);
	else
		print_text(rows, STATS_NDAEMONS, now);
	fflush(stdout);
	return rv;
}
