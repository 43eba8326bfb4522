/*
 * Counters in shared memory: each daemon's parent creates one stats
 * file, <rundir>/stats/<daemon>.stats, and maps it MAP_SHARED before it
 * forks, so every process of the daemon (also after chroot and the
 * privilege drop) counts with one relaxed atomic add and never waits
 * for the reader.  tsamba-metricsd and tsambactl status read a copy of
 * the files (never a mapping: a process that truncates its file would
 * kill a reader of a mapping with SIGBUS).
 *
 * The file: a fixed header (struct stats_header), then one 64-bit slot
 * per value.  Which values there are comes from one table, STATS_METRICS
 * below: the writer's layout, the exporter's names and HELP/TYPE lines
 * and tsambactl's figures all come from it.  A reader refuses a file
 * whose version or layout hash differs from its own (a daemon binary of
 * another build).
 *
 * Files are mode 0644 and the directory 0755: the counters are not
 * secrets, and any local user may read them, like ps(1) output.
 */

#ifndef TSAMBA_STATS_H
#define TSAMBA_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STATS_MAGIC		0x5453414d42535431ULL	/* "TSAMBST1" */
#define STATS_VERSION		1
#define STATS_LISTENERS		16	/* listener slots; the last "other" */
#define STATS_LABEL_MAX		48
#define STATS_DAEMON_MAX	16
#define STATS_FILE_MAX		(1024 * 1024)
#define STATS_DIR		"stats"

enum stats_daemon {
	STATS_SMTPD,
	STATS_QUEUE,
	STATS_LMTPD,
	STATS_AUTHD,
	STATS_IMAPD,
	STATS_NDAEMONS
};

enum stats_type {
	STATS_COUNTER,
	STATS_GAUGE,
	STATS_AGE,		/* holds a unix time, shown as seconds since */
	STATS_HISTOGRAM,	/* observed in microseconds, shown in seconds */
};

/* The label of a metric: its name and its fixed set of values. */
enum stats_labels {
	SL_NONE,
	SL_LISTENER,		/* listener="smtp:25", from the header */
	SL_TLS,			/* version="TLSv1.3" */
	SL_SERVICE,		/* service="smtp" */
	SL_VIA,			/* via="lmtp" | "smtp" */
	SL_NOTICE,		/* type="failure" | "delay" */
	SL_RESULT,		/* result="delivered" | ... */
	SL_PROTO,		/* protocol="imap" | "pop3" (PROTO_IMAP, ...) */
	SL_AUTHRESULT,		/* result="pass" | ... (RFC 8601 results) */
	SL_CHECK_ACTION,	/* action="accept" | "quarantine" | ... */
	SL_MILTER_ACTION,	/* action="accept" | "reject" | ... */
	SL_NLABELS
};

/* Bucket bounds of the histograms. */
enum stats_buckets {
	SB_NONE,
	SB_DELIVERY,		/* 1 s .. 1 d: time in the queue */
	SB_QUERY,		/* 0.5 ms .. 5 s: one authd request */
	SB_NBUCKETS
};

/*
 * M(id, daemon, type, labels, buckets, name, help).  Names follow the
 * Prometheus conventions: tsamba_ prefix, _total for counters, base
 * units (seconds, bytes).  Append new metrics where they belong; the
 * layout hash changes with the table, so an old reader refuses a new
 * file rather than misreading it.
 */
#define STATS_METRICS(M)						\
	M(ST_SMTP_CONNECTIONS, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_smtp_connections_total",			\
	    "SMTP connections accepted, by listener.")			\
	M(ST_SMTP_REFUSED, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_smtp_connections_refused_total",		\
	    "SMTP connections refused by a session limit.")		\
	M(ST_SMTP_SESSIONS, STATS_SMTPD, STATS_GAUGE, SL_LISTENER,	\
	    SB_NONE, "tsamba_smtp_sessions",				\
	    "SMTP sessions open now, by listener.")			\
	M(ST_SMTP_BANNED, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_smtp_banned_connections_total",		\
	    "SMTP connections from a banned address (421).")		\
	M(ST_SMTP_RECEIVED, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_smtp_messages_received_total",		\
	    "Messages accepted (250 after DATA or BDAT), by listener.")	\
	M(ST_SMTP_RCPT_REJECTED, STATS_SMTPD, STATS_COUNTER, SL_LISTENER, \
	    SB_NONE, "tsamba_smtp_recipients_rejected_total",		\
	    "RCPT TO refused with a 5xx reply, by listener.")		\
	M(ST_SMTP_AUTH_OK, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_smtp_auth_successes_total",		\
	    "Successful SMTP AUTH, by listener.")			\
	M(ST_SMTP_AUTH_FAIL, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_smtp_auth_failures_total",			\
	    "Failed SMTP AUTH (535), by listener.")			\
	M(ST_SMTP_TLS, STATS_SMTPD, STATS_COUNTER, SL_TLS, SB_NONE,	\
	    "tsamba_smtp_tls_sessions_total",				\
	    "TLS handshakes completed, by protocol version.")		\
	M(ST_QUEUE_MESSAGES, STATS_QUEUE, STATS_GAUGE, SL_NONE, SB_NONE, \
	    "tsamba_queue_messages", "Messages in the queue now.")	\
	M(ST_QUEUE_OLDEST, STATS_QUEUE, STATS_AGE, SL_NONE, SB_NONE,	\
	    "tsamba_queue_oldest_message_age_seconds",			\
	    "Age of the oldest message in the queue (0 when empty).")	\
	M(ST_QUEUE_DELIVERED, STATS_QUEUE, STATS_COUNTER, SL_VIA,	\
	    SB_NONE, "tsamba_queue_delivered_total",			\
	    "Recipients delivered, by way (lmtp: local, smtp: remote).") \
	M(ST_QUEUE_DEFERRED, STATS_QUEUE, STATS_COUNTER, SL_VIA, SB_NONE, \
	    "tsamba_queue_deferred_total",				\
	    "Delivery attempts that failed temporarily, by way.")	\
	M(ST_QUEUE_FAILED, STATS_QUEUE, STATS_COUNTER, SL_VIA, SB_NONE,	\
	    "tsamba_queue_failed_total",				\
	    "Recipients refused permanently (5xx), by way.")		\
	M(ST_QUEUE_EXPIRED, STATS_QUEUE, STATS_COUNTER, SL_NONE, SB_NONE, \
	    "tsamba_queue_expired_total",				\
	    "Recipients given up after the queue lifetime.")		\
	M(ST_QUEUE_NOTICES, STATS_QUEUE, STATS_COUNTER, SL_NOTICE,	\
	    SB_NONE, "tsamba_queue_bounces_total",			\
	    "Delivery status notifications queued, by type.")		\
	M(ST_QUEUE_DELIVERY_TIME, STATS_QUEUE, STATS_HISTOGRAM, SL_NONE, \
	    SB_DELIVERY, "tsamba_queue_delivery_seconds",		\
	    "Time from commit to delivery, per delivered recipient.")	\
	M(ST_MTA_TLS, STATS_QUEUE, STATS_COUNTER, SL_TLS, SB_NONE,	\
	    "tsamba_mta_tls_sessions_total",				\
	    "Outbound TLS handshakes completed, by protocol version.")	\
	M(ST_DKIM_SIGNED, STATS_QUEUE, STATS_COUNTER, SL_NONE, SB_NONE,	\
	    "tsamba_dkim_signatures_total",				\
	    "DKIM-Signature headers made.")				\
	M(ST_DKIM_ERRORS, STATS_QUEUE, STATS_COUNTER, SL_NONE, SB_NONE,	\
	    "tsamba_dkim_errors_total",					\
	    "Messages that could not be signed.")			\
	M(ST_LMTP_CONNECTIONS, STATS_LMTPD, STATS_COUNTER, SL_NONE,	\
	    SB_NONE, "tsamba_lmtp_connections_total",			\
	    "LMTP connections accepted.")				\
	M(ST_LMTP_SESSIONS, STATS_LMTPD, STATS_GAUGE, SL_NONE, SB_NONE,	\
	    "tsamba_lmtp_sessions", "LMTP sessions open now.")		\
	M(ST_LMTP_DELIVERIES, STATS_LMTPD, STATS_COUNTER, SL_RESULT,	\
	    SB_NONE, "tsamba_lmtp_deliveries_total",			\
	    "Maildir deliveries, by result.")				\
	M(ST_AUTH_OK, STATS_AUTHD, STATS_COUNTER, SL_SERVICE, SB_NONE,	\
	    "tsamba_auth_successes_total",				\
	    "Password checks that succeeded, by service.")		\
	M(ST_AUTH_FAIL, STATS_AUTHD, STATS_COUNTER, SL_SERVICE, SB_NONE, \
	    "tsamba_auth_failures_total",				\
	    "Password checks that failed (also from a banned address).") \
	M(ST_AUTH_TEMPFAIL, STATS_AUTHD, STATS_COUNTER, SL_SERVICE,	\
	    SB_NONE, "tsamba_auth_tempfails_total",			\
	    "Password checks not answered (the database was down).")	\
	M(ST_BANS, STATS_AUTHD, STATS_GAUGE, SL_NONE, SB_NONE,		\
	    "tsamba_bans", "Networks banned now.")			\
	M(ST_BANS_TOTAL, STATS_AUTHD, STATS_COUNTER, SL_NONE, SB_NONE,	\
	    "tsamba_bans_total",					\
	    "Bans made for repeated failed logins.")			\
	M(ST_AUTHD_QUERY_TIME, STATS_AUTHD, STATS_HISTOGRAM, SL_NONE,	\
	    SB_QUERY, "tsamba_authd_query_seconds",			\
	    "Time a worker spent on one request (lookup or password check).") \
	M(ST_AUTHD_DB_ERRORS, STATS_AUTHD, STATS_COUNTER, SL_NONE,	\
	    SB_NONE, "tsamba_authd_database_errors_total",		\
	    "Failed database connections and queries.")			\
	M(ST_IMAP_CONNECTIONS, STATS_IMAPD, STATS_COUNTER, SL_PROTO,	\
	    SB_NONE, "tsamba_imap_connections_total",			\
	    "IMAP and POP3 connections accepted, by protocol.")		\
	M(ST_IMAP_SESSIONS, STATS_IMAPD, STATS_GAUGE, SL_PROTO, SB_NONE, \
	    "tsamba_imap_sessions",					\
	    "Logged-in sessions (mail processes) now, by protocol.")	\
	M(ST_IMAP_SESSIONS_TOTAL, STATS_IMAPD, STATS_COUNTER, SL_PROTO,	\
	    SB_NONE, "tsamba_imap_sessions_started_total",		\
	    "Logged-in sessions started, by protocol.")			\
	M(ST_IMAP_TLS, STATS_IMAPD, STATS_COUNTER, SL_TLS, SB_NONE,	\
	    "tsamba_imap_tls_sessions_total",				\
	    "IMAP and POP3 TLS handshakes completed, by protocol version.") \
	M(ST_IMAP_CRASHES, STATS_IMAPD, STATS_COUNTER, SL_PROTO, SB_NONE, \
	    "tsamba_imap_mail_crashes_total",				\
	    "Mail processes killed by a signal, by protocol.")		\
	M(ST_CHECK_ACTIONS, STATS_SMTPD, STATS_COUNTER, SL_CHECK_ACTION, \
	    SB_NONE, "tsamba_check_verdicts_total",			\
	    "Messages judged by the inbound checks, by what they got.")	\
	M(ST_CHECK_SPF, STATS_SMTPD, STATS_COUNTER, SL_AUTHRESULT,	\
	    SB_NONE, "tsamba_check_spf_total",				\
	    "SPF results of the MAIL FROM identity, by result.")	\
	M(ST_CHECK_DKIM, STATS_SMTPD, STATS_COUNTER, SL_AUTHRESULT,	\
	    SB_NONE, "tsamba_check_dkim_total",				\
	    "DKIM signatures verified (none: unsigned), by result.")	\
	M(ST_CHECK_DMARC, STATS_SMTPD, STATS_COUNTER, SL_AUTHRESULT,	\
	    SB_NONE, "tsamba_check_dmarc_total",			\
	    "DMARC results, by result.")				\
	M(ST_CHECK_IPREV, STATS_SMTPD, STATS_COUNTER, SL_AUTHRESULT,	\
	    SB_NONE, "tsamba_check_iprev_total",			\
	    "FCrDNS (iprev) results of clients, by result.")		\
	M(ST_CHECK_DNSBL, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_check_dnsbl_refused_total",		\
	    "Connections or recipients refused for a DNS block list.")	\
	M(ST_CHECK_GREYLISTED, STATS_SMTPD, STATS_COUNTER, SL_LISTENER,	\
	    SB_NONE, "tsamba_check_greylisted_total",			\
	    "Recipients deferred by greylisting (451).")		\
	M(ST_MILTER_ACTIONS, STATS_SMTPD, STATS_COUNTER, SL_MILTER_ACTION, \
	    SB_NONE, "tsamba_milter_actions_total",			\
	    "Milter verdicts and edits applied, by action.")

enum stats_id {
#define STATS_ENUM(id, d, t, l, b, n, h)	id,
	STATS_METRICS(STATS_ENUM)
#undef STATS_ENUM
	ST_NMETRICS
};

struct stats_metric {
	enum stats_daemon	 daemon;
	enum stats_type		 type;
	enum stats_labels	 labels;
	enum stats_buckets	 buckets;
	const char		*name;
	const char		*help;
};

/* The file header: fixed layout, every field naturally aligned. */
struct stats_header {
	uint64_t	magic;		/* STATS_MAGIC */
	uint32_t	version;	/* STATS_VERSION */
	uint32_t	size;		/* of the whole file */
	uint64_t	layout;		/* hash of the table for this daemon */
	char		daemon[STATS_DAEMON_MAX];	/* "smtpd" */
	int64_t		pid;		/* of the daemon's parent */
	int64_t		start_time;	/* unix time */
	int64_t		reload_time;	/* last SIGHUP, 0 = none */
	uint64_t	generation;	/* reloads since start */
	uint32_t	nvalues;	/* 64-bit slots after the header */
	uint32_t	nlisteners;	/* names in listeners[] */
	char		listeners[STATS_LISTENERS][STATS_LABEL_MAX];
};

/* The table and its labels. */
const struct stats_metric	*stats_metric(enum stats_id);
const char	*stats_daemon_name(enum stats_daemon);
const char	*stats_label_key(enum stats_labels);	/* NULL: none */
size_t		 stats_label_count(enum stats_labels);
/* A fixed label value; for SL_LISTENER see stats_view_listener. */
const char	*stats_label_value(enum stats_labels, size_t);
/*
 * Index of value (case-insensitive, up to a blank: "TLSv1.3 TLS_AES..."
 * is TLSv1.3); unknown or NULL: the last one ("other").
 */
unsigned int	 stats_label_index(enum stats_labels, const char *value);
size_t		 stats_bucket_count(enum stats_buckets);
/* Upper bound of bucket i, in microseconds. */
uint64_t	 stats_bucket_bound(enum stats_buckets, size_t i);
/* Slot of a listener by its index in the configuration. */
unsigned int	 stats_listener_slot(size_t index);

/*
 * Writer, in the daemon's parent before it forks: create the file
 * (replacing an old one at once, by rename) with the names of its
 * listeners (may be NULL), map it and keep it locked (flock) while the
 * daemon lives; the lock is how a reader tells a live daemon.  If the
 * file cannot be made, a warning, and counting goes to memory that no
 * one reads: a daemon never fails for its statistics.
 */
void	stats_open(const char *rundir, enum stats_daemon,
	    const char *const *listeners, size_t nlisteners);
void	stats_add(enum stats_id, unsigned int label, int64_t delta);
#define stats_inc(id, label)	stats_add((id), (label), 1)
#define stats_dec(id, label)	stats_add((id), (label), -1)
void	stats_set(enum stats_id, unsigned int label, int64_t value);
void	stats_observe(enum stats_id, unsigned int label, uint64_t usec);
/* Microseconds since a CLOCK_MONOTONIC time. */
uint64_t stats_usec_since(const struct timespec *);
/* After daemon(3) in a process that opened the file: the new pid. */
void	stats_setpid(void);
/* On SIGHUP: reload_time and generation. */
void	stats_reloaded(void);

/* Reader: a copy of one daemon's file, taken at open. */
struct stats_view {
	enum stats_daemon		 daemon;
	const struct stats_header	*hdr;
	const volatile uint64_t		*values;
	size_t				 size;
	size_t				 offset[ST_NMETRICS];
	int				 up;	/* locked and pid alive */
};

/*
 * Open and check the file of a daemon in the stats directory dirfd.
 * 0, or -1 with a reason in err (no file, another layout, too short);
 * a file that passes but whose daemon is gone has up == 0.
 */
int	 stats_view_open(int dirfd, enum stats_daemon, struct stats_view *,
	    char *err, size_t errsz);
void	 stats_view_close(struct stats_view *);
/* The value of slot k (a histogram bucket, sum last) of a label. */
uint64_t stats_view_get(const struct stats_view *, enum stats_id,
	    unsigned int label, size_t k);
/* A listener's name, or NULL for an unused slot. */
const char *stats_view_listener(const struct stats_view *, size_t slot);
/* Total of a metric over its labels (gauges: signed). */
int64_t	 stats_view_sum(const struct stats_view *, enum stats_id);

/* For tests: the layout of a daemon's file. */
size_t	 stats_layout(enum stats_daemon, size_t offset[ST_NMETRICS],
	    uint64_t *hash);

#endif
