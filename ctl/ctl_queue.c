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
#define QUEUE_TEXT_MAX		1024

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

static int
read_entry(struct imsg *imsg)
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
	print_entry(id, sender, nrcpt, size, created, next, held, error);
	return 0;
}

static int
read_detail(struct imsg *imsg)
{
	char	 text[QUEUE_TEXT_MAX * 2];

	if (imsg_get_str(imsg, text, sizeof(text)) == -1 ||
	    imsg_get_end(imsg) == -1)
		return -1;
	printf("%s\n", text);
	return 0;
}

/* Answers to our request up to CTL_DONE; entries are printed. */
static int
queue_answers(struct ctl_imsg *ci, int quiet)
{
	struct imsg	 imsg;
	char		 msg[512];
	uint64_t	 id;
	uint8_t		 status;
	int		 bad;

	for (;;) {
		if (ctl_imsg_next(ci, &imsg) == -1)
			return -1;
		bad = imsg_get_u64(&imsg, &id) == -1 || id != QUEUE_REQID;
		if (!bad && imsg.hdr.type == IMSG_CTL_QUEUE_ENTRY)
			bad = read_entry(&imsg) == -1;
		else if (!bad && imsg.hdr.type == IMSG_CTL_QUEUE_DETAIL)
			bad = read_detail(&imsg) == -1;
		else if (!bad && imsg.hdr.type == IMSG_CTL_DONE) {
			bad = imsg_get_u8(&imsg, &status) == -1 ||
			    imsg_get_str(&imsg, msg, sizeof(msg)) == -1 ||
			    imsg_get_end(&imsg) == -1;
			imsg_free(&imsg);
			if (bad)
				break;
			if (status != 0) {
				ctl_warnx("%s", *msg ? msg : "refused");
				return -1;
			}
			if (!quiet && *msg)
				printf("%s\n", msg);
			return 0;
		} else
			bad = 1;
		imsg_free(&imsg);
		if (bad)
			break;
	}
	ctl_warnx("unexpected message from tsamba-queue");
	return -1;
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
	struct ibuf	*b;
	const char	*arg = "";
	uint32_t	 type;
	int		 silent = 0, rv = -1;

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
	    "tsamba-queue") == -1)
		return -1;
	if ((b = imsg_create(type, 0, -1)) == NULL ||
	    ibuf_add_u64(b, QUEUE_REQID) == -1 ||
	    (type != IMSG_CTL_QUEUE_LIST && ibuf_add_str(b, arg) == -1) ||
	    (type == IMSG_CTL_QUEUE_DEL && ibuf_add_u8(b, silent) == -1) ||
	    imsg_close(&ci.ib, b) == -1 || imsgbuf_flush(&ci.ib) == -1) {
		ctl_warn("cannot send the request");
		goto done;
	}
	if (type == IMSG_CTL_QUEUE_LIST)
		print_header();
	rv = queue_answers(&ci, type == IMSG_CTL_QUEUE_LIST ||
	    type == IMSG_CTL_QUEUE_SHOW);
 done:
	ctl_imsg_close(&ci);
	return rv;
}

int
cmd_queue(int argc, char *argv[])
{
	return ctl_queue(ctl_conf(), argc, argv);
}
