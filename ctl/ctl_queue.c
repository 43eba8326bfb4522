/*
 * tsambactl queue: look at and act on the queue of tsamba-queue over
 * its control socket (queue.control.sock in the run directory, root
 * only): list, show, flush, hold, release, del.  One connection per
 * command: the imsg hello, one request, then the answers up to
 * CTL_DONE, each wait bounded by a timeout.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "msgid.h"
#include "proto.h"
#include "ctl.h"

#define QUEUE_REQID		1

/* "3m", "2h", "4d": short and wide enough for a column. */
static void
span(time_t secs, char *buf, size_t bufsz)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, bufsz, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(buf, bufsz, "%lldm", (long long)secs / 60);
	else if (secs < 2 * 86400)
		snprintf(buf, bufsz, "%lldh", (long long)secs / 3600);
	else
		snprintf(buf, bufsz, "%lldd", (long long)secs / 86400);
}

static void
print_header(void)
{
	printf("%-16s  %-32s %5s %9s %5s %-8s %s\n", "ID", "SENDER", "RCPTS",
	    "SIZE", "AGE", "NEXT", "LAST ERROR");
}

static void
print_entry(const char *id, const char *sender, uint32_t nrcpt,
    uint64_t size, uint64_t created, uint64_t next, uint8_t held,
    const char *error)
{
	time_t	 now = time(NULL);
	char	 age[32], nexttry[32];

	span(now - (time_t)created, age, sizeof(age));
	if (held)
		strlcpy(nexttry, "held", sizeof(nexttry));
	else if (next == 0)
		strlcpy(nexttry, "active", sizeof(nexttry));
	else if ((time_t)next <= now)
		strlcpy(nexttry, "now", sizeof(nexttry));
	else
		span((time_t)next - now, nexttry, sizeof(nexttry));
	printf("%-16s  %-32s %5u %9llu %5s %-8s %s\n", id,
	    sender[0] ? sender : "<>", nrcpt, (unsigned long long)size, age,
	    nexttry, error[0] ? error : "-");
}

static const struct channel_type queue_types[] = {
	{ IMSG_CTL_QUEUE_ENTRY, CHANNEL_PART },
	{ IMSG_CTL_QUEUE_DETAIL, CHANNEL_PART },
	{ IMSG_CTL_DONE, CHANNEL_ANSWER },
	{ 0, 0 }
};

/* An answer to our request: entries and details printed, then DONE. */
static int
queue_answer(struct imsg *imsg, union imsg_msg *m, void *arg)
{
	const struct msg_ctl_queue_entry	*e = &m->ctl_queue_entry;
	int					 quiet = *(int *)arg;

	switch (imsg->hdr.type) {
	case IMSG_CTL_QUEUE_ENTRY:
		print_entry(e->msgid, e->sender, e->nrcpt, e->size,
		    e->created, e->next, e->held, e->error);
		return 0;
	case IMSG_CTL_QUEUE_DETAIL:
		printf("%s\n", m->ctl_queue_detail.text);
		return 0;
	}
	if (m->ctl_done.failed) {
		ctl_warnx("%s", *m->ctl_done.message ? m->ctl_done.message :
		    "refused");
		return -1;
	}
	if (!quiet && *m->ctl_done.message)
		printf("%s\n", m->ctl_done.message);
	return 0;
}

/* The request of type about arg. */
static struct ibuf *
queue_request(uint32_t type, const char *arg, int silent)
{
	uint64_t	 id = QUEUE_REQID;

	switch (type) {
	case IMSG_CTL_QUEUE_LIST:
		return msg_ctl_queue_list_pack(&(struct msg_ctl_queue_list){
		    .id = id }, -1);
	case IMSG_CTL_QUEUE_SHOW:
		return msg_ctl_queue_show_pack(&(struct msg_ctl_queue_show){
		    .id = id, .msgid = arg }, -1);
	case IMSG_CTL_QUEUE_FLUSH:
		return msg_ctl_queue_flush_pack(&(struct msg_ctl_queue_flush){
		    .id = id, .target = arg }, -1);
	case IMSG_CTL_QUEUE_HOLD:
		return msg_ctl_queue_hold_pack(&(struct msg_ctl_queue_hold){
		    .id = id, .msgid = arg }, -1);
	case IMSG_CTL_QUEUE_RELEASE:
		return msg_ctl_queue_release_pack(
		    &(struct msg_ctl_queue_release){ .id = id, .msgid = arg },
		    -1);
	default:
		return msg_ctl_queue_del_pack(&(struct msg_ctl_queue_del){
		    .id = id, .msgid = arg, .silent = silent }, -1);
	}
}

static void __attribute__((__noreturn__))
queue_usage(void)
{
	fprintf(stderr, "usage: tsambactl queue list | show id | "
	    "flush [id | domain] |\n"
	    "       hold id | release id | del [--silent] id\n");
	exit(2);
}

/* The queue of tsamba-queue over queue.control.sock. */
static int
ctl_queue(struct conf *conf, int argc, char *argv[])
{
	struct ctl_imsg	 ci;
	const char	*arg = "";
	uint32_t	 type;
	int		 silent = 0, rv = -1, quiet;

	if (argc < 2)
		queue_usage();
	if (strcmp(argv[1], "list") == 0 && argc == 2) {
		ctl->what = "queue list";
		type = IMSG_CTL_QUEUE_LIST;
	} else if (strcmp(argv[1], "show") == 0 && argc == 3) {
		ctl->what = "queue show";
		type = IMSG_CTL_QUEUE_SHOW;
		arg = argv[2];
	} else if (strcmp(argv[1], "flush") == 0 && argc <= 3) {
		ctl->what = "queue flush";
		type = IMSG_CTL_QUEUE_FLUSH;
		if (argc == 3)
			arg = argv[2];
		if (strlen(arg) > ADDR_MAX)
			ctl_errx("argument too long");
	} else if (strcmp(argv[1], "hold") == 0 && argc == 3) {
		ctl->what = "queue hold";
		type = IMSG_CTL_QUEUE_HOLD;
		arg = argv[2];
	} else if (strcmp(argv[1], "release") == 0 && argc == 3) {
		ctl->what = "queue release";
		type = IMSG_CTL_QUEUE_RELEASE;
		arg = argv[2];
	} else if (strcmp(argv[1], "del") == 0 && (argc == 3 ||
	    (argc == 4 && strcmp(argv[2], "--silent") == 0))) {
		ctl->what = "queue del";
		type = IMSG_CTL_QUEUE_DEL;
		silent = argc == 4;
		arg = argv[argc - 1];
	} else
		queue_usage();
	if (type != IMSG_CTL_QUEUE_LIST && type != IMSG_CTL_QUEUE_FLUSH &&
	    !msgid_valid(arg))
		ctl_errx("invalid message id \"%s\" (16 hex digits)", arg);

	if (ctl_imsg_open(&ci, conf, "queue.control.sock",
	    "tsamba-queue", queue_types) == -1)
		return -1;
	if (type == IMSG_CTL_QUEUE_LIST)
		print_header();
	quiet = type == IMSG_CTL_QUEUE_LIST || type == IMSG_CTL_QUEUE_SHOW;
	rv = ctl_imsg_request(&ci, queue_request(type, arg, silent),
	    QUEUE_REQID, queue_answer, &quiet);
	ctl_imsg_close(&ci);
	return rv;
}

int
cmd_queue(int argc, char *argv[])
{
	return ctl_queue(ctl_conf(), argc, argv);
}
