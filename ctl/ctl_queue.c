/*
 * tsambactl queue: look at and act on the queue of tsamba-queue over
 * its control socket (queue.control.sock in the run directory, root
 * only): list, show, flush, hold, release, del.  One connection per
 * command: the imsg hello, one request, then the answers up to
 * CTL_DONE, each wait bounded by a timeout.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "proto.h"
#include "ctl.h"

#define QUEUE_TIMEOUT_MS	10000
#define QUEUE_REQID		1
#define QUEUE_TEXT_MAX		1024

static int
queue_connect(struct conf *conf, struct imsgbuf *ib)
{
	struct sockaddr_un	 sun;
	char			 path[PATH_MAX];
	int			 fd;

	conf_sockpath(conf, "queue.control.sock", path, sizeof(path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		ctl_warnx("socket path too long: %s", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		ctl_warn("socket");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		ctl_warn("cannot reach tsamba-queue at %s", path);
		close(fd);
		return -1;
	}
	imsgbuf_init(ib, fd);
	return 0;
}

/* The next message, waiting at most QUEUE_TIMEOUT_MS: 0 or -1. */
static int
queue_next(struct imsgbuf *ib, struct imsg *imsg)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(ib, imsg)) == 1)
			return 0;
		if (r == -1) {
			ctl_warnx("malformed message from tsamba-queue");
			return -1;
		}
		pfd.fd = ib->fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, QUEUE_TIMEOUT_MS)) == -1) {
			if (errno == EINTR)
				continue;
			ctl_warn("poll");
			return -1;
		}
		if (r == 0) {
			ctl_warnx("tsamba-queue did not answer");
			return -1;
		}
		if ((n = imsgbuf_read(ib)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ctl_warn("read");
			return -1;
		}
		if (n == 0) {
			ctl_warnx("tsamba-queue closed the connection (not "
			    "root?)");
			return -1;
		}
	}
}

static int
queue_hello(struct imsgbuf *ib)
{
	struct imsg	 imsg;
	int		 rv;

	if (imsg_send_hello(ib, "tsambactl") == -1 ||
	    imsgbuf_flush(ib) == -1) {
		ctl_warn("cannot write to tsamba-queue");
		return -1;
	}
	if (queue_next(ib, &imsg) == -1)
		return -1;
	rv = imsg_check_hello(&imsg, "tsamba-queue");
	imsg_free(&imsg);
	if (rv == -1)
		ctl_warnx("tsamba-queue speaks another protocol version");
	return rv;
}

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
queue_answers(struct imsgbuf *ib, int quiet)
{
	struct imsg	 imsg;
	char		 msg[512];
	uint64_t	 id;
	uint8_t		 status;
	int		 bad;

	for (;;) {
		if (queue_next(ib, &imsg) == -1)
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

static int
is_msgid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == MSGID_LEN;
}

static void __attribute__((__noreturn__))
queue_usage(void)
{
	fprintf(stderr, "usage: tsambactl queue list | show id | "
	    "flush [id | domain] |\n"
	    "       hold id | release id | del [--silent] id\n");
	exit(2);
}

int
ctl_queue(struct conf *conf, int argc, char *argv[])
{
	struct imsgbuf	 ib;
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
	    !is_msgid(arg))
		ctl_errx("invalid message id \"%s\" (16 hex digits)", arg);

	if (queue_connect(conf, &ib) == -1)
		return -1;
	if (queue_hello(&ib) == -1)
		goto done;
	if ((b = imsg_create(type, 0, -1)) == NULL ||
	    ibuf_add_u64(b, QUEUE_REQID) == -1 ||
	    (type != IMSG_CTL_QUEUE_LIST && ibuf_add_str(b, arg) == -1) ||
	    (type == IMSG_CTL_QUEUE_DEL && ibuf_add_u8(b, silent) == -1) ||
	    imsg_close(&ib, b) == -1 || imsgbuf_flush(&ib) == -1) {
		ctl_warn("cannot send the request");
		goto done;
	}
	if (type == IMSG_CTL_QUEUE_LIST)
		print_header();
	rv = queue_answers(&ib, type == IMSG_CTL_QUEUE_LIST ||
	    type == IMSG_CTL_QUEUE_SHOW);
 done:
	imsgbuf_clear(&ib);
	close(ib.fd);
	return rv;
}

int
cmd_queue(int argc, char *argv[])
{
	return ctl_queue(ctl_conf(), argc, argv);
}
