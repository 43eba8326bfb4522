/*
 * tsambactl health: the queue of tsamba-queue, from the same
 * CTL_QUEUE_LIST that "tsambactl queue list" asks on
 * queue.control.sock: how many messages, how many deferred (a pending
 * recipient has an error from a try), held, and how long the oldest
 * has waited.  Held messages are the admin's doing and do not count
 * for the age.  WARN when a message has waited longer than "queue
 * delay-warn" (its sender is being told of the delay) or the queue
 * holds more than HEALTH_QUEUE_WARN messages; FAIL when one has waited
 * more than half of "queue lifetime" (it will bounce) or the queue
 * holds more than HEALTH_QUEUE_FAIL.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "imsg.h"
#include "msgid.h"
#include "proto.h"
#include "ctl.h"
#include "ctl_health.h"

#define HEALTH_QUEUE_WARN	1000
#define HEALTH_QUEUE_FAIL	10000
#define QUEUE_REQID		1
#define QUEUE_TEXT_MAX		1024

struct queue_census {
	size_t		 total, deferred, held;
	uint64_t	 oldest;	/* created, of those not held; 0 none */
};

static int
census_entry(struct imsg *imsg, struct queue_census *qc)
{
	char		 id[MSGID_LEN + 1], sender[ADDR_MAX + 1];
	char		 error[QUEUE_TEXT_MAX];
	uint64_t	 size, created, next;
	uint32_t	 nrcpt;
	uint8_t		 held;

	if (imsg_get_str(imsg, id, sizeof(id)) == -1 ||
	    imsg_get_str(imsg, sender, sizeof(sender)) == -1 ||
	    imsg_get_u32(imsg, &nrcpt) == -1 ||
	    imsg_get_u64(imsg, &size) == -1 ||
	    imsg_get_u64(imsg, &created) == -1 ||
	    imsg_get_u64(imsg, &next) == -1 ||
	    imsg_get_u8(imsg, &held) == -1 ||
	    imsg_get_str(imsg, error, sizeof(error)) == -1 ||
	    imsg_get_end(imsg) == -1)
		return -1;
	qc->total++;
	if (held) {
		qc->held++;
		return 0;
	}
	if (error[0] != '\0')
		qc->deferred++;
	if (qc->oldest == 0 || created < qc->oldest)
		qc->oldest = created;
	return 0;
}

/* The entries up to CTL_DONE: 0, or -1 with why in err. */
static int
census_read(struct ctl_imsg *ci, struct queue_census *qc, char *err,
    size_t errsz)
{
	struct imsg	 imsg;
	char		 msg[512];
	uint64_t	 id;
	uint8_t		 status;
	int		 bad, done = 0;

	while (!done) {
		if (ctl_imsg_next(ci, &imsg) == -1)
			return -1;	/* captured */
		bad = imsg_get_u64(&imsg, &id) == -1 || id != QUEUE_REQID;
		if (!bad && imsg.hdr.type == IMSG_CTL_QUEUE_ENTRY)
			bad = census_entry(&imsg, qc) == -1;
		else if (!bad && imsg.hdr.type == IMSG_CTL_DONE) {
			bad = imsg_get_u8(&imsg, &status) == -1 ||
			    imsg_get_str(&imsg, msg, sizeof(msg)) == -1 ||
			    imsg_get_end(&imsg) == -1;
			if (!bad && status != 0) {
				snprintf(err, errsz, "list refused: %.400s",
				    msg);
				imsg_free(&imsg);
				return -1;
			}
			done = 1;
		} else
			bad = 1;
		imsg_free(&imsg);
		if (bad) {
			snprintf(err, errsz, "unexpected message from "
			    "tsamba-queue");
			return -1;
		}
	}
	return 0;
}

/* "45s", "12m", "3h", "2d". */
static void
span(long long secs, char *buf, size_t bufsz)
{
	if (secs < 120)
		snprintf(buf, bufsz, "%llds", secs);
	else if (secs < 7200)
		snprintf(buf, bufsz, "%lldm", secs / 60);
	else if (secs < 2 * 86400)
		snprintf(buf, bufsz, "%lldh", secs / 3600);
	else
		snprintf(buf, bufsz, "%lldd", secs / 86400);
}

static void
queue_judge(struct health *h, const struct queue_census *qc)
{
	enum health_status	 st = HEALTH_OK;
	const struct conf	*conf = h->conf;
	const char		*why = "";
	char			 agestr[32];
	long long		 age = 0;

	if (qc->oldest != 0)
		age = (long long)time(NULL) - (long long)qc->oldest;
	if (age < 0)
		age = 0;
	if (qc->total > HEALTH_QUEUE_FAIL) {
		st = HEALTH_FAIL;
		why = "; too many messages";
	} else if (qc->oldest != 0 && age > conf->queue_lifetime / 2) {
		st = HEALTH_FAIL;
		why = "; older than half the queue lifetime";
	} else if (qc->total > HEALTH_QUEUE_WARN) {
		st = HEALTH_WARN;
		why = "; many messages";
	} else if (qc->oldest != 0 && age > conf->queue_delay_warn) {
		st = HEALTH_WARN;
		why = "; older than queue delay-warn";
	}
	if (qc->oldest == 0)
		health_add(h, st, "queue", "%zu messages, %zu deferred, %zu "
		    "held%s", qc->total, qc->deferred, qc->held, why);
	else {
		span(age, agestr, sizeof(agestr));
		health_add(h, st, "queue", "%zu messages, %zu deferred, %zu "
		    "held, oldest %s%s", qc->total, qc->deferred,
		    qc->held, agestr, why);
	}
}

void
health_queue(struct health *h)
{
	struct queue_census	 qc;
	struct ctl_imsg		 ci;
	struct ibuf		*b;
	char			 err[HEALTH_DETAIL_MAX];
	int			 r;

	memset(&qc, 0, sizeof(qc));
	health_capture(err, sizeof(err));
	if (ctl_imsg_open(&ci, h->conf, "queue.control.sock",
	    "tsamba-queue") == -1) {
		health_capture(NULL, 0);
		health_add(h, HEALTH_FAIL, "queue", "%s", err);
		return;
	}
	if ((b = imsg_create(IMSG_CTL_QUEUE_LIST, 0, -1)) == NULL ||
	    ibuf_add_u64(b, QUEUE_REQID) == -1 ||
	    imsg_close(&ci.ib, b) == -1 || imsgbuf_flush(&ci.ib) == -1) {
		snprintf(err, sizeof(err), "cannot send the request");
		r = -1;
	} else
		r = census_read(&ci, &qc, err, sizeof(err));
	ctl_imsg_close(&ci);
	health_capture(NULL, 0);
	if (r == -1)
		health_add(h, HEALTH_FAIL, "queue", "%s", err);
	else
		queue_judge(h, &qc);
}
