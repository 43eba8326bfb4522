/*
 * Unit tests for lib/channel.c over a socketpair: the peer (a bare
 * imsgbuf here) sending an unknown type, an fd where none is allowed, a
 * HELLO of another version, a short or a trailing payload is dropped
 * with a log line naming the type; pending requests fail on a drop and
 * at their deadline, answers reach their request; the reconnect backoff
 * grows and resets; the blocking side's hello; the drained callback
 * fires.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>

#include "channel.h"
#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "unixsock.h"
#include "unit.h"

static const struct channel_type types[] = {
	{ IMSG_AUTH_RCPT_RESULT, CHANNEL_ANSWER },
	{ IMSG_CTL_BAN_ENTRY, CHANNEL_PART },
	{ IMSG_CTL_DONE, CHANNEL_ANSWER },
	{ IMSG_QUEUE_MSG_CREATED, 0 },
	{ 0, 0 }
};

static int	 ups, downs, dispatched, drained;

static void
cb_up(struct channel *ch, void *arg)
{
	ups++;
}

static void
cb_down(struct channel *ch, void *arg)
{
	downs++;
}

static void
cb_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	dispatched++;
}

static void
cb_drained(struct channel *ch, void *arg)
{
	drained++;
}

static const struct channel_cbs cbs = {
	.dispatch = cb_dispatch, .up = cb_up, .down = cb_down,
	.drained = cb_drained,
};

/* Run the loop until *flag reaches want or ms pass. */
static void
run_until(const int *flag, int want, int ms)
{
	struct timespec	 t = { 0, 1000000 };

	while (ms-- > 0 && (flag == NULL || *flag < want)) {
		event_loop(EVLOOP_NONBLOCK);
		nanosleep(&t, NULL);
	}
}

/* stderr into a file while a case runs, to read its log lines. */
static int	 saved_stderr = -1;
static FILE	*logfile;

static void
capture(void)
{
	fflush(stderr);
	logfile = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(logfile), STDERR_FILENO);
}

/* 1 if what was logged since capture() holds needle. */
static int
logged(const char *needle)
{
	char	 buf[8192];
	size_t	 n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(logfile);
	n = fread(buf, 1, sizeof(buf) - 1, logfile);
	buf[n] = '\0';
	fclose(logfile);
	if (strstr(buf, needle) == NULL) {
		fprintf(stderr, "log was: %s", buf);
		return 0;
	}
	return 1;
}

static void
peer_send(struct imsgbuf *peer, struct ibuf *b)
{
	if (imsg_close(peer, b) == -1 || imsgbuf_flush(peer) == -1)
		fatal("peer send");
}

static void
peer_hello(struct imsgbuf *peer, uint32_t version)
{
	struct msg_hello	 h = { .version = version, .who = "peer" };

	peer_send(peer, msg_hello_pack(&h, -1));
}

/* A channel on one end of a socketpair, the peer on the other. */
static void
open_pair(struct channel *ch, struct imsgbuf *peer)
{
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		fatal("socketpair");
	ups = downs = dispatched = drained = 0;
	channel_init(ch, "test peer", "test", types, &cbs, NULL);
	channel_attach(ch, sv[0]);
	imsgbuf_init(peer, sv[1]);
}

static void
close_pair(struct channel *ch, struct imsgbuf *peer)
{
	channel_close(ch);
	imsgbuf_clear(peer);
	close(peer->fd);
}

/* Up, then the peer sends b: is the channel dropped, logging needle? */
static void
drop_case(struct ibuf *b, const char *needle)
{
	struct channel	 ch;
	struct imsgbuf	 peer;

	open_pair(&ch, &peer);
	peer_hello(&peer, PROTO_VERSION);
	run_until(&ups, 1, 1000);
	CHECK(ups == 1 && channel_up(&ch));
	capture();
	peer_send(&peer, b);
	run_until(&downs, 1, 1000);
	CHECKF(downs == 1 && logged(needle), "%s", needle);
	CHECK(!channel_up(&ch) && dispatched == 0);
	close_pair(&ch, &peer);
}

static struct ibuf *
rcpt_result(uint64_t id, int fd)
{
	struct msg_auth_rcpt_result	 m = { .id = id, .status = 0 };

	return msg_auth_rcpt_result_pack(&m, fd);
}

static void
test_rules(void)
{
	struct channel	 ch;
	struct imsgbuf	 peer;
	struct ibuf	*b;
	int		 p[2];

	/* A HELLO of another version. */
	open_pair(&ch, &peer);
	capture();
	peer_hello(&peer, PROTO_VERSION + 1);
	run_until(&downs, 1, 1000);
	CHECK(downs == 1 && ups == 0 && logged("HELLO: peer peer speaks "
	    "protocol version"));
	close_pair(&ch, &peer);

	/* A type not in the table. */
	b = msg_ctl_ban_list_pack(&(struct msg_ctl_ban_list){ .id = 1 }, -1);
	drop_case(b, "unexpected message CTL_BAN_LIST");

	/* A descriptor with a type that may not carry one. */
	if (pipe(p) == -1)
		fatal("pipe");
	drop_case(rcpt_result(1, p[0]),
	    "AUTH_RCPT_RESULT with a file descriptor");
	close(p[0]);
	close(p[1]);

	/* A short payload: the list count missing. */
	b = imsg_create(IMSG_AUTH_RCPT_RESULT, 0, -1);
	ibuf_add_u64(b, 1);
	ibuf_add_u8(b, 0);
	drop_case(b, "malformed AUTH_RCPT_RESULT");

	/* A trailing byte. */
	b = rcpt_result(1, -1);
	ibuf_add_u8(b, 0);
	drop_case(b, "malformed AUTH_RCPT_RESULT");

	/* Before the peer's HELLO, anything else. */
	open_pair(&ch, &peer);
	capture();
	peer_send(&peer, rcpt_result(1, -1));
	run_until(&downs, 1, 1000);
	CHECK(downs == 1 && logged("expected HELLO, got AUTH_RCPT_RESULT"));
	close_pair(&ch, &peer);
}

static int	 answers, failures, parts;

static void
req_cb(struct channel_req *r, struct imsg *imsg, union imsg_msg *m)
{
	if (imsg == NULL)
		failures++;
	else if (imsg->hdr.type == IMSG_CTL_BAN_ENTRY)
		parts++;
	else
		answers++;
}

static void
test_requests(void)
{
	struct channel		 ch;
	struct imsgbuf		 peer;
	struct channel_req	 r1, r2, r3;
	uint64_t		 id1, id2;
	struct msg_ctl_ban_entry e = { .ip = "192.0.2.1" };

	open_pair(&ch, &peer);
	peer_hello(&peer, PROTO_VERSION);
	run_until(&ups, 1, 1000);
	answers = failures = parts = 0;
	id1 = channel_req_add(&ch, &r1, 0, req_cb, NULL);
	id2 = channel_req_add(&ch, &r2, 0, req_cb, NULL);
	CHECK(id1 != id2 && channel_req_count(&ch) == 2);

	/* Parts keep a request, its answer ends it. */
	e.id = id2;
	peer_send(&peer, msg_ctl_ban_entry_pack(&e, -1));
	peer_send(&peer, msg_ctl_ban_entry_pack(&e, -1));
	peer_send(&peer, rcpt_result(id2, -1));
	run_until(&answers, 1, 1000);
	CHECK(parts == 2 && answers == 1 && failures == 0);
	CHECK(!channel_req_pending(&r2) && channel_req_pending(&r1));
	/*
	 * An answer again, for no request (late), and a message that is
	 * no answer: both go to dispatch, not to a request.
	 */
	peer_send(&peer, rcpt_result(id2, -1));
	peer_send(&peer, msg_queue_msg_created_pack(
	    &(struct msg_queue_msg_created){ .id = 5, .msgid = "" }, -1));
	run_until(&dispatched, 2, 1000);
	CHECK(dispatched == 2 && answers == 1 && ups == 1);

	/* The peer goes: what is pending fails. */
	close(peer.fd);
	run_until(&failures, 1, 1000);
	CHECK(failures == 1 && downs == 1 && channel_req_count(&ch) == 0);
	CHECK(!channel_req_pending(&r1));
	imsgbuf_clear(&peer);
	channel_close(&ch);

	/* A deadline passes. */
	open_pair(&ch, &peer);
	peer_hello(&peer, PROTO_VERSION);
	run_until(&ups, 1, 1000);
	failures = 0;
	capture();
	channel_req_add(&ch, &r3, 50, req_cb, NULL);
	run_until(&failures, 1, 2000);
	CHECK(failures == 1 && logged("got no answer in time"));
	CHECK(channel_req_count(&ch) == 0 && channel_up(&ch));
	close_pair(&ch, &peer);
}

static void
test_backoff(void)
{
	struct channel	 ch;
	struct imsgbuf	 peer;
	char		 dir[] = "/tmp/test_channel.XXXXXX", path[128];
	int		 lfd, fd, b1, b2;

	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	ups = downs = 0;
	channel_init(&ch, "test server", "test", types, &cbs, NULL);
	channel_start(&ch, path);
	b1 = ch.backoff;
	CHECK(ch.state == CHANNEL_CONNECTING &&
	    b1 == 2 * CHANNEL_BACKOFF_MIN);
	run_until(NULL, 0, 400);
	b2 = ch.backoff;
	CHECKF(b2 >= 4 * b1, "%d then %d", b1, b2);

	lfd = unixsock_listen(path, 0600, 4, 0);
	while (ch.state != CHANNEL_HELLO && ups == 0)
		run_until(NULL, 0, 10);
	CHECK((fd = accept(lfd, NULL, NULL)) != -1);
	imsgbuf_init(&peer, fd);
	peer_hello(&peer, PROTO_VERSION);
	run_until(&ups, 1, 1000);
	CHECK(ups == 1 && ch.backoff == CHANNEL_BACKOFF_MIN);

	/* Dropped, it comes back after the first backoff. */
	close(fd);
	imsgbuf_clear(&peer);
	run_until(&downs, 1, 1000);
	CHECK(downs == 1 && ch.state == CHANNEL_CONNECTING);
	while (ch.state != CHANNEL_HELLO)
		run_until(NULL, 0, 10);
	CHECK((fd = accept(lfd, NULL, NULL)) != -1);
	close(fd);
	channel_close(&ch);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

/*
 * The blocking side's hello (tsambactl, the key client, the writers):
 * the peer's HELLO is b; 0 if channel_sync_hello took it.
 */
static int
sync_hello_with(struct ibuf *b)
{
	struct channel	 ch;
	struct imsgbuf	 peer;
	struct imsg	 imsg;
	int		 sv[2], rv;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		fatal("socketpair");
	imsgbuf_init(&peer, sv[1]);
	peer_send(&peer, b);
	channel_init(&ch, "sync peer", "test", types, NULL, NULL);
	rv = channel_sync_hello(&ch, sv[0], 1000);
	/* Ours came over, a HELLO of our version. */
	while (imsg_get(&peer, &imsg) == 0)
		if (imsgbuf_read(&peer) <= 0)
			break;
	CHECK(imsg.hdr.type == IMSG_HELLO);
	imsg_free(&imsg);
	if (rv == 0)
		channel_sync_close(&ch);
	imsgbuf_clear(&peer);
	close(sv[1]);
	return rv;
}

static void
test_sync_hello(void)
{
	struct msg_hello	 h = { .version = PROTO_VERSION, .who = "p" };
	struct ibuf		*b;

	CHECK(sync_hello_with(msg_hello_pack(&h, -1)) == 0);
	h.version = PROTO_VERSION + 1;
	capture();
	CHECK(sync_hello_with(msg_hello_pack(&h, -1)) == -1);
	CHECK(logged("speaks protocol version"));
	/* Trailing bytes. */
	h.version = PROTO_VERSION;
	b = msg_hello_pack(&h, -1);
	ibuf_add_u8(b, 0);
	capture();
	CHECK(sync_hello_with(b) == -1);
	CHECK(logged("malformed HELLO"));
	/* Not a hello at all. */
	capture();
	CHECK(sync_hello_with(rcpt_result(1, -1)) == -1);
	CHECK(logged("expected HELLO, got AUTH_RCPT_RESULT"));
}

static void
test_drained(void)
{
	struct channel		 ch;
	struct imsgbuf		 peer;
	struct msg_ctl_queue_detail d = { .id = 1 };
	char			 text[PROTO_TEXT_MAX + 1], sink[65536];
	int			 i, t;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	d.text = text;
	open_pair(&ch, &peer);
	peer_hello(&peer, PROTO_VERSION);
	run_until(&ups, 1, 1000);
	channel_set_drain(&ch, 16);
	for (i = 0; i < 4096; i++)
		CHECK(channel_send(&ch,
		    msg_ctl_queue_detail_pack(&d, -1)) == 0);
	run_until(NULL, 0, 50);
	/* The peer reads nothing: the queue stays full. */
	CHECK(drained == 0 && channel_queued(&ch) > 16);
	fcntl(peer.fd, F_SETFL, O_NONBLOCK);
	for (t = 0; t < 5000 && drained == 0; t++) {
		while (read(peer.fd, sink, sizeof(sink)) > 0)
			;
		run_until(NULL, 0, 1);
	}
	CHECK(drained == 1 && channel_queued(&ch) <= 16);
	close_pair(&ch, &peer);
}

int
main(void)
{
	log_init(1, "test_channel");
	log_setverbose(1);
	event_init();
	test_rules();
	test_requests();
	test_backoff();
	test_sync_hello();
	test_drained();
	return unit_done("test_channel");
}
