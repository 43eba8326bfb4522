/*
 * Unit tests for lib/imsg.c: encoding and decoding of every field type,
 * descriptor passing, size limits, rejection of short, trailing and
 * malformed data and ordering under a full socket (the hello handshake
 * is the channel's, test_channel.c).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "unit.h"

static void
pair(int sv[2], int nonblock)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		fatal("socketpair");
	if (nonblock) {
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
	}
}

/* Read until one message is there (blocking socket). */
static int
get_one(struct imsgbuf *ib, struct imsg *imsg)
{
	int	 rv;

	while ((rv = imsg_get(ib, imsg)) == 0)
		if (imsgbuf_read(ib) <= 0)
			return -1;
	return rv;
}

static void
test_fields(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*m;
	int		 sv[2];
	uint8_t		 u8;
	uint16_t	 u16;
	uint32_t	 u32;
	uint64_t	 u64;
	char		 str[64];
	const void	*blob;
	size_t		 bloblen;
	const uint8_t	 bytes[5] = { 0, 1, 2, 0xff, 0 };

	pair(sv, 0);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);

	CHECK((m = imsg_create(IMSG_AUTH_LOOKUP_RCPT, 42, -1)) != NULL);
	CHECK(ibuf_add_u8(m, 0xab) == 0);
	CHECK(ibuf_add_u16(m, 0xbeef) == 0);
	CHECK(ibuf_add_u32(m, 0xdeadbeefU) == 0);
	CHECK(ibuf_add_u64(m, 0x0123456789abcdefULL) == 0);
	CHECK(ibuf_add_str(m, "user@example.org") == 0);
	CHECK(ibuf_add_str(m, "") == 0);
	CHECK(ibuf_add_blob(m, bytes, sizeof(bytes)) == 0);
	CHECK(ibuf_add_blob(m, NULL, 0) == 0);
	CHECK(imsg_close(&a, m) == 0);
	CHECK(a.wqlen == 1);
	/* The encoding is little-endian whatever the host. */
	m = TAILQ_FIRST(&a.wq);
	CHECK(m->buf[IMSG_HDRSIZE + 1] == 0xef && m->buf[IMSG_HDRSIZE + 2] ==
	    0xbe);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(a.wqlen == 0);

	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg.hdr.type == IMSG_AUTH_LOOKUP_RCPT);
	CHECK(imsg.hdr.peerid == 42);
	CHECK(imsg.hdr.pid == (uint32_t)getpid());
	CHECK(imsg.fd == -1);
	CHECK(imsg_get_u8(&imsg, &u8) == 0 && u8 == 0xab);
	CHECK(imsg_get_u16(&imsg, &u16) == 0 && u16 == 0xbeef);
	CHECK(imsg_get_u32(&imsg, &u32) == 0 && u32 == 0xdeadbeefU);
	CHECK(imsg_get_u64(&imsg, &u64) == 0 &&
	    u64 == 0x0123456789abcdefULL);
	CHECK(imsg_get_str(&imsg, str, sizeof(str)) == 0 &&
	    strcmp(str, "user@example.org") == 0);
	CHECK(imsg_get_str(&imsg, str, sizeof(str)) == 0 && str[0] == '\0');
	CHECK(imsg_get_end(&imsg) == -1);
	CHECK(imsg_get_blob(&imsg, &blob, &bloblen) == 0 &&
	    bloblen == sizeof(bytes) && memcmp(blob, bytes, bloblen) == 0);
	CHECK(imsg_get_blob(&imsg, &blob, &bloblen) == 0 && bloblen == 0);
	CHECK(imsg_get_end(&imsg) == 0);
	/* Nothing left: every getter now fails. */
	CHECK(imsg_get_u8(&imsg, &u8) == -1);
	CHECK(imsg_get_str(&imsg, str, sizeof(str)) == -1);
	imsg_free(&imsg);

	/* An empty message. */
	CHECK(imsg_compose(&a, IMSG_SMTP_READY, 7, -1) == 0);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg.hdr.type == IMSG_SMTP_READY && imsg.len == 0);
	CHECK(imsg_get_end(&imsg) == 0);
	CHECK(imsg_get_u8(&imsg, &u8) == -1);
	imsg_free(&imsg);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_fd(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*m;
	int		 sv[2], p[2], p2[2];
	uint64_t	 id;
	char		 buf[16];

	pair(sv, 0);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	CHECK(pipe(p) == 0);
	CHECK(pipe(p2) == 0);

	/* fd, no fd, fd: each descriptor goes to its own message. */
	CHECK((m = imsg_create(IMSG_QUEUE_MSG_CREATED, 0, p[1])) != NULL);
	CHECK(ibuf_add_u64(m, 1) == 0);
	CHECK(imsg_close(&a, m) == 0);
	CHECK(imsg_compose(&a, IMSG_NONE, 0, -1) == 0);
	CHECK((m = imsg_create(IMSG_QUEUE_MSG_CREATED, 0, p2[1])) != NULL);
	CHECK(ibuf_add_u64(m, 2) == 0);
	CHECK(imsg_close(&a, m) == 0);
	CHECK(imsgbuf_flush(&a) == 0);
	/* Sent descriptors are closed on our side. */
	CHECK(fcntl(p[1], F_GETFD) == -1 && errno == EBADF);
	CHECK(fcntl(p2[1], F_GETFD) == -1 && errno == EBADF);

	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg.hdr.len & IMSG_HASFD);
	CHECK(imsg.fd != -1);
	CHECK(imsg_get_u64(&imsg, &id) == 0 && id == 1);
	CHECK(imsg_get_end(&imsg) == 0);
	CHECK(write(imsg.fd, "hello", 5) == 5);
	close(imsg.fd);
	CHECK(read(p[0], buf, sizeof(buf)) == 5 &&
	    memcmp(buf, "hello", 5) == 0);
	imsg_free(&imsg);

	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg.hdr.type == IMSG_NONE && imsg.fd == -1);
	imsg_free(&imsg);

	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg.fd != -1);
	CHECK(imsg_get_u64(&imsg, &id) == 0 && id == 2);
	CHECK(write(imsg.fd, "two", 3) == 3);
	close(imsg.fd);
	CHECK(read(p2[0], buf, sizeof(buf)) == 3 &&
	    memcmp(buf, "two", 3) == 0);
	imsg_free(&imsg);

	close(p[0]);
	close(p2[0]);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

static void
test_limits(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*m;
	int		 sv[2];
	static uint8_t	 big[IMSG_MAXPAYLOAD];
	const void	*blob;
	size_t		 len;
	char		 str[8];
	char		*longstr;

	pair(sv, 0);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	memset(big, 'x', sizeof(big));

	/* Exactly the maximum payload: a blob of max - 4 bytes. */
	CHECK((m = imsg_create(IMSG_NONE, 0, -1)) != NULL);
	CHECK(ibuf_add_blob(m, big, IMSG_MAXPAYLOAD - 4) == 0);
	CHECK(imsg_close(&a, m) == 0);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg.len == IMSG_MAXPAYLOAD);
	CHECK(imsg_get_blob(&imsg, &blob, &len) == 0 &&
	    len == IMSG_MAXPAYLOAD - 4);
	CHECK(imsg_get_end(&imsg) == 0);
	imsg_free(&imsg);

	/* One byte more is refused by the add, then by imsg_close. */
	CHECK((m = imsg_create(IMSG_NONE, 0, -1)) != NULL);
	CHECK(ibuf_add_blob(m, big, IMSG_MAXPAYLOAD - 4) == 0);
	CHECK(ibuf_add_u8(m, 1) == -1);
	CHECK(imsg_close(&a, m) == -1);
	CHECK(a.wqlen == 0);

	/* A string too long for the payload. */
	CHECK((longstr = malloc(IMSG_MAXPAYLOAD + 1)) != NULL);
	memset(longstr, 'y', IMSG_MAXPAYLOAD);
	longstr[IMSG_MAXPAYLOAD] = '\0';
	CHECK((m = imsg_create(IMSG_NONE, 0, -1)) != NULL);
	CHECK(ibuf_add_str(m, longstr) == -1);
	CHECK(imsg_close(&a, m) == -1);
	free(longstr);

	/* A string longer than the destination buffer. */
	CHECK((m = imsg_create(IMSG_NONE, 0, -1)) != NULL);
	CHECK(ibuf_add_str(m, "12345678") == 0);
	CHECK(imsg_close(&a, m) == 0);
	CHECK(imsgbuf_flush(&a) == 0);
	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg_get_str(&imsg, str, sizeof(str)) == -1);
	CHECK(imsg_get_end(&imsg) == -1);
	imsg_free(&imsg);

	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/* Write raw bytes as a peer that does not follow the rules would. */
static void
raw_message(int fd, uint32_t type, const void *payload, size_t len,
    uint32_t hdrlen)
{
	struct imsg_hdr	 hdr;

	hdr.type = type;
	hdr.len = hdrlen;
	hdr.peerid = 0;
	hdr.pid = 0;
	if (write(fd, &hdr, sizeof(hdr)) != sizeof(hdr) ||
	    (len > 0 && write(fd, payload, len) != (ssize_t)len))
		fatal("write");
}

static void
test_malformed(void)
{
	struct imsgbuf	 b;
	struct imsg	 imsg;
	int		 sv[2];
	uint8_t		 u8;
	uint16_t	 u16;
	uint32_t	 u32;
	uint64_t	 u64;
	char		 str[32];
	const void	*blob;
	size_t		 len;
	const uint8_t	 nul[] = { 3, 0, 'a', 0, 'b' };
	const uint8_t	 shortstr[] = { 9, 0, 'a', 'b' };
	const uint8_t	 shortblob[] = { 9, 0, 0, 0, 'a' };
	const uint8_t	 three[] = { 1, 2, 3 };

	/* Short data for every getter. */
	pair(sv, 0);
	imsgbuf_init(&b, sv[1]);
	raw_message(sv[0], 1, three, sizeof(three), 16 + sizeof(three));
	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg_get_u32(&imsg, &u32) == -1);
	CHECK(imsg_get_u64(&imsg, &u64) == -1);
	CHECK(imsg_get_str(&imsg, str, sizeof(str)) == -1);
	CHECK(imsg_get_blob(&imsg, &blob, &len) == -1);
	CHECK(imsg_get_u16(&imsg, &u16) == 0 && u16 == 0x0201);
	CHECK(imsg_get_u16(&imsg, &u16) == -1);
	CHECK(imsg_get_end(&imsg) == -1);
	CHECK(imsg_get_u8(&imsg, &u8) == 0 && u8 == 3);
	CHECK(imsg_get_end(&imsg) == 0);
	imsg_free(&imsg);

	/* A string with a NUL inside, a string and a blob cut short. */
	raw_message(sv[0], 1, nul, sizeof(nul), 16 + sizeof(nul));
	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg_get_str(&imsg, str, sizeof(str)) == -1);
	imsg_free(&imsg);
	raw_message(sv[0], 1, shortstr, sizeof(shortstr),
	    16 + sizeof(shortstr));
	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg_get_str(&imsg, str, sizeof(str)) == -1);
	imsg_free(&imsg);
	raw_message(sv[0], 1, shortblob, sizeof(shortblob),
	    16 + sizeof(shortblob));
	CHECK(get_one(&b, &imsg) == 1);
	CHECK(imsg_get_blob(&imsg, &blob, &len) == -1);
	imsg_free(&imsg);

	/* A header shorter than itself. */
	raw_message(sv[0], 1, NULL, 0, 15);
	CHECK(imsgbuf_read(&b) > 0);
	CHECK(imsg_get(&b, &imsg) == -1);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);

	/* A header longer than the maximum. */
	pair(sv, 0);
	imsgbuf_init(&b, sv[1]);
	raw_message(sv[0], 1, NULL, 0, IMSG_HDRSIZE + IMSG_MAXPAYLOAD + 1);
	CHECK(imsgbuf_read(&b) > 0);
	CHECK(imsg_get(&b, &imsg) == -1);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);

	/* Garbage in the high bits of the length. */
	pair(sv, 0);
	imsgbuf_init(&b, sv[1]);
	raw_message(sv[0], 1, NULL, 0, 0x00010010);
	CHECK(imsgbuf_read(&b) > 0);
	CHECK(imsg_get(&b, &imsg) == -1);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);

	/* A partial message is "need more", then EOF reads 0. */
	pair(sv, 0);
	imsgbuf_init(&b, sv[1]);
	CHECK(write(sv[0], "\x01\x00\x00\x00\x20\x00", 6) == 6);
	CHECK(imsgbuf_read(&b) == 6);
	CHECK(imsg_get(&b, &imsg) == 0);
	close(sv[0]);
	CHECK(imsgbuf_read(&b) == 0);
	imsgbuf_clear(&b);
	close(sv[1]);
}

/*
 * Queue far more than the socket buffer holds, with descriptors mixed
 * in, and drain both ends alternately on non-blocking sockets.
 */
static void
test_order(void)
{
	struct imsgbuf	 a, b;
	struct imsg	 imsg;
	struct ibuf	*m;
	struct pollfd	 pfd[2];
	int		 sv[2], i, rv, bad = 0, fdbad = 0, nfd = 0;
	uint32_t	 seq, want = 0;
	const int	 total = 5000;
	static uint8_t	 pad[1000];

	pair(sv, 1);
	imsgbuf_init(&a, sv[0]);
	imsgbuf_init(&b, sv[1]);
	for (i = 0; i < total; i++) {
		int	 fd = -1;

		if (i % 97 == 0)
			fd = open("/dev/null", O_RDONLY);
		CHECK((m = imsg_create(IMSG_NONE, i, fd)) != NULL);
		ibuf_add_u32(m, i);
		ibuf_add_blob(m, pad, i % sizeof(pad));
		if (imsg_close(&a, m) == -1)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(a.wqlen == (size_t)total);

	while (want < (uint32_t)total) {
		pfd[0].fd = sv[0];
		pfd[0].events = a.wqlen > 0 ? POLLOUT : 0;
		pfd[1].fd = sv[1];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, 5000) <= 0) {
			CHECK(!"poll timed out");
			break;
		}
		if (pfd[0].revents & POLLOUT)
			CHECK(imsgbuf_write(&a) == 0);
		if (pfd[1].revents & POLLIN) {
			if (imsgbuf_read(&b) <= 0 && errno != EAGAIN) {
				CHECK(!"read failed");
				break;
			}
			while ((rv = imsg_get(&b, &imsg)) == 1) {
				const void	*blob;
				size_t		 len;

				if (imsg_get_u32(&imsg, &seq) == -1 ||
				    seq != want || imsg.hdr.peerid != want ||
				    imsg_get_blob(&imsg, &blob, &len) == -1 ||
				    len != want % sizeof(pad) ||
				    imsg_get_end(&imsg) == -1)
					bad++;
				if ((imsg.fd != -1) != (want % 97 == 0))
					fdbad++;
				if (imsg.fd != -1) {
					nfd++;
					close(imsg.fd);
				}
				imsg_free(&imsg);
				want++;
			}
			CHECK(rv == 0);
		}
	}
	CHECK(want == (uint32_t)total);
	CHECK(bad == 0);
	CHECK(fdbad == 0);
	CHECK(nfd == (total + 96) / 97);
	CHECK(a.wqlen == 0);
	CHECK(b.nrfds == 0);
	imsgbuf_clear(&a);
	imsgbuf_clear(&b);
	close(sv[0]);
	close(sv[1]);
}

/* The libevent glue: a ping-pong, then EOF reported once as NULL. */
struct evtest {
	int	 got;
	int	 eof;
};

static void
ev_handler(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	struct evtest	*t = arg;
	uint32_t	 n;

	if (imsg == NULL) {
		t->eof++;
		imsgev_clear(iev);
		return;
	}
	if (imsg_get_u32(imsg, &n) == 0 && imsg_get_end(imsg) == 0 &&
	    n == (uint32_t)t->got)
		t->got++;
}

static void
test_event(void)
{
	struct imsgev	 iev;
	struct imsgbuf	 a;
	struct ibuf	*m;
	struct evtest	 t = { 0, 0 };
	int		 sv[2], i;

	event_init();
	pair(sv, 1);
	imsgbuf_init(&a, sv[0]);
	imsgev_init(&iev, sv[1], ev_handler, &t);
	for (i = 0; i < 100; i++) {
		m = imsg_create(IMSG_NONE, 0, -1);
		ibuf_add_u32(m, i);
		imsg_close(&a, m);
	}
	CHECK(imsgbuf_flush(&a) == 0);
	close(sv[0]);
	event_dispatch();
	CHECK(t.got == 100);
	CHECK(t.eof == 1);
	CHECK(iev.ibuf.fd == -1);
	imsgbuf_clear(&a);

	/* Malformed input: the handler hears NULL once. */
	t.got = t.eof = 0;
	pair(sv, 1);
	imsgev_init(&iev, sv[1], ev_handler, &t);
	raw_message(sv[0], 1, NULL, 0, 3);
	event_dispatch();
	CHECK(t.eof == 1);
	close(sv[0]);

	/*
	 * The peer sent results and went away; our next write fails.  The
	 * results still reach the handler, before the one NULL.
	 */
	t.got = t.eof = 0;
	pair(sv, 1);
	imsgbuf_init(&a, sv[0]);
	for (i = 0; i < 10; i++) {
		m = imsg_create(IMSG_NONE, 0, -1);
		ibuf_add_u32(m, i);
		imsg_close(&a, m);
	}
	CHECK(imsgbuf_flush(&a) == 0);
	imsgbuf_clear(&a);
	close(sv[0]);
	imsgev_init(&iev, sv[1], ev_handler, &t);
	CHECK(imsgev_send(&iev, imsg_create(IMSG_NONE, 0, -1)) == 0);
	event_dispatch();
	CHECK(t.got == 10);
	CHECK(t.eof == 1);
}

int
main(void)
{
	log_init(1, "test_imsg");
	test_fields();
	test_fd();
	test_limits();
	test_malformed();
	test_order();
	test_event();
	return unit_done("test_imsg");
}
