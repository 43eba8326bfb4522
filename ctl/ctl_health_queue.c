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

struct queue_census {
	size_t		 total, deferred, held;
	uint64_t	 oldest;	/* created, of those not held; 0 none */
};

static const struct channel_type census_types[] = {
	{ IMSG_CTL_QUEUE_ENTRY, CHANNEL_PART },
	{ IMSG_CTL_DONE, CHANNEL_ANSWER },
	{ 0, 0 }
};

/* Each entry counted, up to CTL_DONE (a refusal is said as a warning). */
static int
census_answer(struct imsg *imsg, union imsg_msg *m, void *arg)
{
	const struct msg_ctl_queue_entry	*e = &m->ctl_queue_entry;
	struct queue_census			*qc = arg;

	if (imsg->hdr.type == IMSG_CTL_DONE) {
		if (m->ctl_done.failed) {
			ctl_warnx("list refused: %.400s", m->ctl_done.message);
			return -1;
		}
		return 0;
	}
	qc->total++;
	if (e->held) {
		qc->held++;
		return 0;
	}
	if (e->error[0] != '\0')
		qc->deferred++;
	if (qc->oldest == 0 || e->created < qc->oldest)
		qc->oldest = e->created;
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
	char			 err[HEALTH_DETAIL_MAX];
	int			 r;

	memset(&qc, 0, sizeof(qc));
	health_capture(err, sizeof(err));
	if (ctl_imsg_open(&ci, h->conf, "queue.control.sock",
	    "tsamba-queue", census_types) == -1) {
		health_capture(NULL, 0);
		health_add(h, HEALTH_FAIL, "queue", "%s", err);
		return;
	}
	r = ctl_imsg_request(&ci, msg_ctl_queue_list_pack(
	    &(struct msg_ctl_queue_list){ .id = QUEUE_REQID }, -1),
	    QUEUE_REQID, census_answer, &qc);
	ctl_imsg_close(&ci);
	health_capture(NULL, 0);
	if (r == -1)
		health_add(h, HEALTH_FAIL, "queue", "%s", err);
	else
		queue_judge(h, &qc);
}
