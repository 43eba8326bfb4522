/*
 * Bounces and delay notices: delivery status notifications (RFC 3464)
 * from the null sender to the original sender, listing the recipients
 * that failed (Action: failed) or are still being retried (Action:
 * delayed, with Will-Retry-Until).  Each is a new message in the spool,
 * committed like any other.  It goes to the sender as a local recipient
 * (over LMTP).  When the original was not submitted by an authenticated
 * user, the sender may be anybody's: the recipient then also carries
 * RCPT_FALLBACK, and if the LMTP server refuses it for good it goes to
 * the mta instead.  A message from the null sender is never bounced; if
 * a notice cannot be delivered, the scheduler keeps it on hold.
 */

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "esc.h"
#include "log.h"
#include "stats.h"
#include "queue.h"

#define BOUNCE_HEADERS_MAX	(64 * 1024)

static int	notice_create(struct envelope *, const char *, int);

static void
rfc5322_date(time_t t, char *buf, size_t bufsz)
{
	struct tm	 tm;

	localtime_r(&t, &tm);
	if (strftime(buf, bufsz, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		buf[0] = '\0';
}

/* The enhanced status code of a reply, or def when there is none. */
static void
reply_status(const char *reply, const char *def, char *buf, size_t bufsz)
{
	const char	*p = reply;
	int		 n1, n2, n3, len = 0;

	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ' ')
		p += 4;
	if ((p[0] == '4' || p[0] == '5') &&
	    sscanf(p, "%1d.%3d.%3d%n", &n1, &n2, &n3, &len) == 3 &&
	    (p[len] == ' ' || p[len] == '\0')) {
		snprintf(buf, bufsz, "%d.%d.%d", n1, n2, n3);
		return;
	}
	strlcpy(buf, def, bufsz);
}

static int
is_reply(const char *s)
{
	return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && (s[3] == ' ' || s[3] == '\0');
}

/* Copy the header section of the original with CRLF line ends. */
static void
copy_headers(FILE *out, const struct envelope *env)
{
	FILE	*in;
	char	 path[64], line[1024];
	size_t	 total = 0, len;
	int	 bol = 1;

	/* The fields the envelope keeps in front of the file come first. */
	fputs(spool_prefix(env), out);
	spool_msgpath("queue", env->id, path, sizeof(path));
	if ((in = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		fprintf(out, "X-Tsamba-Note: original headers unavailable\r\n");
		return;
	}
	/* Long lines come in pieces; only a whole line can end the headers. */
	while (total < BOUNCE_HEADERS_MAX &&
	    fgets(line, sizeof(line), in) != NULL) {
		len = strlen(line);
		total += len;
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
			if (len > 0 && line[len - 1] == '\r')
				line[--len] = '\0';
			if (bol && len == 0)
				break;
			fprintf(out, "%s\r\n", line);
			bol = 1;
		} else {
			fputs(line, out);
			bol = 0;
		}
	}
	if (!bol)
		fprintf(out, "\r\n");
	fclose(in);
}

/* "mx.example.net [192.0.2.1]" -> "mx.example.net" */
static void
remote_mta(FILE *f, const struct rcpt *r, const char *host)
{
	size_t	 len;

	if ((r->flags & RCPT_LOCAL) || r->relay[0] == '\0') {
		fprintf(f, "Remote-MTA: dns; %s\r\n", host);
		return;
	}
	len = strcspn(r->relay, " [");
	fprintf(f, "Remote-MTA: dns; %.*s\r\n", (int)len, r->relay);
}

/* The recipients a notice is about: a delay, those tried and deferred. */
static int
report_rcpt(const struct rcpt *r, int delayed)
{
	if (delayed)
		return r->state == RCPT_PENDING && r->tries > 0;
	return r->state == RCPT_FAILED && !r->bounced;
}

static void
write_report(FILE *f, struct envelope *env, const char *newid,
    const char *reason, int delayed)
{
	struct rcpt	*r;
	char		 date[64], arrival[64], status[16], until[64];
	char		 boundary[MSGID_LEN + CONF_HOST_MAX + 2];
	const char	*host = queue_conf->hostname, *def;

	rfc5322_date(time(NULL), date, sizeof(date));
	rfc5322_date(env->created, arrival, sizeof(arrival));
	snprintf(boundary, sizeof(boundary), "%s/%s", newid, host);

	fprintf(f, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", host);
	fprintf(f, "To: <%s>\r\n", env->sender);
	if (delayed)
		fprintf(f, "Subject: Delayed Mail (still being retried)\r\n");
	else
		fprintf(f, "Subject: Undelivered Mail Returned to Sender\r\n");
	fprintf(f, "Date: %s\r\n", date);
	fprintf(f, "Message-ID: <%s.bounce@%s>\r\n", newid, host);
	fprintf(f, "Auto-Submitted: auto-replied\r\n");
	fprintf(f, "MIME-Version: 1.0\r\n");
	fprintf(f, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	fprintf(f, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	fprintf(f, "--%s\r\n", boundary);
	fprintf(f, "Content-Description: Notification\r\n");
	fprintf(f, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	fprintf(f, "This is the mail system at host %s.\r\n\r\n", host);
	rfc5322_date(env->created + (time_t)queue_conf->queue_lifetime, until,
	    sizeof(until));
	if (delayed)
		fprintf(f, "Your message %s could not be delivered yet to one "
		    "or more recipients.\r\nThis is only a warning: it is "
		    "still being retried until %s.\r\n"
		    "You do not need to send it again.\r\n\r\n", env->id,
		    until);
	else
		fprintf(f, "Your message %s could not be delivered to one or "
		    "more recipients%s.\r\n\r\n", env->id,
		    reason ? " before it expired" : "");
	TAILQ_FOREACH(r, &env->rcpts, entry)
		if (report_rcpt(r, delayed))
			fprintf(f, "<%s>: %s\r\n", r->addr,
			    r->error[0] ? r->error : "not delivered yet");
	fprintf(f, "\r\n");

	fprintf(f, "--%s\r\n", boundary);
	fprintf(f, "Content-Description: Delivery report\r\n");
	fprintf(f, "Content-Type: message/delivery-status\r\n\r\n");
	fprintf(f, "Reporting-MTA: dns; %s\r\n", host);
	fprintf(f, "X-Tsamba-Queue-ID: %s\r\n", env->id);
	if (env->sender[0] != '\0')
		fprintf(f, "X-Original-Envelope-From: rfc822; %s\r\n",
		    env->sender);
	fprintf(f, "Arrival-Date: %s\r\n", arrival);
	TAILQ_FOREACH(r, &env->rcpts, entry) {
		if (!report_rcpt(r, delayed))
			continue;
		/* Without one in the last reply: what the notice is. */
		if (delayed)
			def = esc_code(ESC_TEMPFAIL, ESC_OTHER_STATUS);
		else if (reason != NULL)
			def = esc_code(ESC_TEMPFAIL, ESC_DELIVERY_TIME_EXPIRED);
		else
			def = esc_code(ESC_PERMFAIL, ESC_OTHER_STATUS);
		reply_status(r->error, def, status, sizeof(status));
		/* A delay is temporary whatever the last reply said. */
		if (delayed && status[0] != '4')
			status[0] = '4';
		fprintf(f, "\r\nFinal-Recipient: rfc822; %s\r\n", r->addr);
		if (r->orcpt[0] != '\0')
			fprintf(f, "Original-Recipient: rfc822; %s\r\n",
			    r->orcpt);
		fprintf(f, "Action: %s\r\n", delayed ? "delayed" : "failed");
		fprintf(f, "Status: %s\r\n", status);
		if (r->relay[0] != '\0' || (r->flags & RCPT_LOCAL))
			remote_mta(f, r, host);
		if (is_reply(r->error))
			fprintf(f, "Diagnostic-Code: smtp; %s\r\n", r->error);
		if (delayed)
			fprintf(f, "Will-Retry-Until: %s\r\n", until);
	}
	fprintf(f, "\r\n");

	fprintf(f, "--%s\r\n", boundary);
	fprintf(f, "Content-Description: Undelivered Message Headers\r\n");
	fprintf(f, "Content-Type: text/rfc822-headers\r\n\r\n");
	copy_headers(f, env);
	fprintf(f, "\r\n--%s--\r\n", boundary);
}

/*
 * Write and commit the bounce for the failed recipients of env that
 * were not reported yet.  reason is NULL for refusals, or says why the
 * queue gave up (expiry).  0, or -1 when the bounce could not be stored.
 */
int
bounce_create(struct envelope *env, const char *reason)
{
	return notice_create(env, reason, 0);
}

/* The delay notice for the pending recipients: 0, or -1 (not stored). */
int
bounce_delay(struct envelope *env)
{
	return notice_create(env, NULL, 1);
}

static int
notice_create(struct envelope *env, const char *reason, int delayed)
{
	struct envelope	 b;
	FILE		*f;
	int		 fd;

	if (env->sender[0] == '\0')
		return 0;
	envelope_init(&b);
	if ((fd = spool_create(b.id, sizeof(b.id))) == -1)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto fail;
	}
	write_report(f, env, b.id, reason, delayed);
	if (fflush(f) == EOF || ferror(f)) {
		log_warn("%s: writing the bounce", b.id);
		fclose(f);
		goto fail;
	}
	if (fclose(f) == EOF)
		goto fail;

	strlcpy(b.helo, queue_conf->hostname, sizeof(b.helo));
	strlcpy(b.client, "local", sizeof(b.client));
	b.body = env->body ? 1 : 0;
	b.smtputf8 = env->smtputf8;
	if (envelope_add_rcpt(&b, env->sender, "", RCPT_LOCAL |
	    (env->auth[0] != '\0' ? 0 : RCPT_FALLBACK)) == NULL)
		goto fail;
	if (spool_store_now(&b) == -1)
		goto fail;
	if (delayed)
		log_info("%s: delay notice queued as %s to=<%s>", env->id,
		    b.id, env->sender);
	else
		log_info("%s: bounce for %s queued as %s to=<%s>", env->id,
		    reason ? reason : "failed recipients", b.id,
		    env->sender);
	stats_inc(ST_QUEUE_NOTICES, delayed ? 1 : 0);
	scheduler_add(&b);
	return 0;
 fail:
	log_warnx("%s: cannot create the bounce", env->id);
	{
		char	 path[64];

		spool_msgpath("incoming", b.id, path, sizeof(path));
		unlink(path);
	}
	envelope_clear(&b);
	return -1;
}
