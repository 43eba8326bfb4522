/*
 * imsg: framing, encoding and descriptor passing for the messages that
 * tsamba processes exchange over UNIX sockets, and the glue that puts a
 * channel on the libevent loop.
 *
 * The byte stream is a sequence of 16-byte headers each followed by its
 * payload.  A descriptor is sent with SCM_RIGHTS in the same sendmsg(2)
 * as bytes of its message, and at most one descriptor-carrying message
 * goes in one sendmsg(2): the kernel then delivers descriptors in the
 * order of their messages and never later than the first byte of the
 * message they belong to, so the reader can hand them out in order.
 *
 * Passwords (LOGIN) and private keys (TLS_CONFIG) travel in messages, so
 * no copy of a message outlives it: every buffer that held one is wiped
 * before it is freed or reused.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "log.h"

#define IMSG_MAXMSG		(IMSG_HDRSIZE + IMSG_MAXPAYLOAD)
#define IMSG_MAXIOV		64	/* messages written per sendmsg */
#define IMSG_MAXRFDS		8	/* descriptors taken per recvmsg */
#define IMSG_RCMSGSZ		CMSG_SPACE(sizeof(int) * IMSG_MAXRFDS)
#define IMSG_INITSIZE		256

/*
 * Private bits of imsgev.events next to the EV_READ and EV_WRITE that
 * are added to the loop.  Every change of what epoll watches costs a
 * system call, so queued messages are written from a turn of the loop
 * made active by hand (IMSGEV_WPEND) and EV_WRITE is watched only once
 * a write came back short (IMSGEV_WBLOCKED); a paused channel keeps its
 * read event until it fires while nobody wants it (IMSGEV_RDIDLE).
 */
#define IMSGEV_DEAD		0x4000	/* the handler has seen the end */
#define IMSGEV_PAUSED		0x2000	/* imsgev_pause() in effect */
#define IMSGEV_RDIDLE		0x1000	/* drop the read event */
#define IMSGEV_WPEND		0x0800	/* write turn made active */
#define IMSGEV_WBLOCKED		0x0400	/* socket full: watch EV_WRITE */
#define IMSGEV_EOF		0x0200	/* end read, not yet delivered */
#define IMSGEV_RPEND		0x0100	/* read turn made active */
#define IMSGEV_ARMED		(EV_READ | EV_WRITE)
#define IMSGEV_ONLOOP		(IMSGEV_ARMED | IMSGEV_WPEND | IMSGEV_RPEND)

static void	imsgbuf_keep_fds(struct imsgbuf *, struct msghdr *);
static int	ibuf_reserve(struct ibuf *, size_t);
static int	ibuf_add(struct ibuf *, const void *, size_t);
static void	imsgev_dispatch(int, short, void *);
static void	imsgev_die(struct imsgev *);
static void	imsgev_activate_read(struct imsgev *);

void
imsgbuf_init(struct imsgbuf *ib, int fd)
{
	memset(ib, 0, sizeof(*ib));
	ib->fd = fd;
	ib->pid = getpid();
	TAILQ_INIT(&ib->wq);
}

void
imsgbuf_clear(struct imsgbuf *ib)
{
	struct ibuf	*b;
	int		 i;

	while ((b = TAILQ_FIRST(&ib->wq)) != NULL) {
		TAILQ_REMOVE(&ib->wq, b, entry);
		ibuf_free(b);
	}
	ib->wqlen = 0;
	for (i = 0; i < ib->nrfds; i++)
		close(ib->rfds[i]);
	ib->nrfds = 0;
	explicit_bzero(ib->rbuf, ib->rlen);
	ib->rlen = 0;
}

/*
 * Keep the descriptors that came with a read, in order.  Our peers send
 * at most one per message and we hand them out as messages are taken,
 * so an overflow means a peer that does not follow the protocol: the
 * extra descriptors are closed and the messages claiming them get -1.
 */
static void
imsgbuf_keep_fds(struct imsgbuf *ib, struct msghdr *msg)
{
	struct cmsghdr	*cm;
	int		*fds, nfds, i;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)CMSG_DATA(cm);
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			int	 fd;

			memcpy(&fd, &fds[i], sizeof(fd));
			if (ib->nrfds < (int)(sizeof(ib->rfds) /
			    sizeof(ib->rfds[0])))
				ib->rfds[ib->nrfds++] = fd;
			else {
				log_warnx("imsg: too many descriptors "
				    "received, closing one");
				close(fd);
			}
		}
	}
}

ssize_t
imsgbuf_read(struct imsgbuf *ib)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[IMSG_RCMSGSZ];
	} cmsgbuf;
	ssize_t		 n;

	if (ib->rlen >= sizeof(ib->rbuf)) {
		/* The caller has not taken the complete message in rbuf. */
		errno = ENOBUFS;
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ib->rbuf + ib->rlen;
	iov.iov_len = sizeof(ib->rbuf) - ib->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	do {
		n = recvmsg(ib->fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (msg.msg_flags & MSG_CTRUNC)
		log_warnx("imsg: descriptors lost (control data truncated)");
	imsgbuf_keep_fds(ib, &msg);
	ib->rlen += n;
	return n;
}

int
imsgbuf_write(struct imsgbuf *ib)
{
	struct iovec	 iov[IMSG_MAXIOV];
	struct msghdr	 msg;
	union {
		struct cmsghdr	hdr;
		uint8_t		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cm;
	struct ibuf	*b, *next, *fdbuf = NULL;
	ssize_t		 n;
	size_t		 left;
	int		 niov = 0;

	TAILQ_FOREACH(b, &ib->wq, entry) {
		if (niov == IMSG_MAXIOV)
			break;
		if (b->fd != -1) {
			/* One descriptor per sendmsg keeps them in order. */
			if (fdbuf != NULL)
				break;
			fdbuf = b;
		}
		iov[niov].iov_base = b->buf + b->rpos;
		iov[niov].iov_len = b->wpos - b->rpos;
		niov++;
	}
	if (niov == 0)
		return 0;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = niov;
	if (fdbuf != NULL) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cm), &fdbuf->fd, sizeof(int));
	}

	do {
		n = sendmsg(ib->fd, &msg, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return 0;
		return -1;
	}

	/* Any byte written carried the descriptor: ours is closed now. */
	if (fdbuf != NULL && n > 0) {
		close(fdbuf->fd);
		fdbuf->fd = -1;
	}
	left = n;
	for (b = TAILQ_FIRST(&ib->wq); b != NULL && left > 0; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (left < b->wpos - b->rpos) {
			b->rpos += left;
			break;
		}
		left -= b->wpos - b->rpos;
		TAILQ_REMOVE(&ib->wq, b, entry);
		ib->wqlen--;
		ibuf_free(b);
	}
	return 0;
}

int
imsgbuf_flush(struct imsgbuf *ib)
{
	return imsgbuf_flush_until(ib, NULL);
}

int
imsgbuf_flush_until(struct imsgbuf *ib, const struct timespec *deadline)
{
	struct pollfd	 pfd;
	struct timespec	 now;
	long long	 ms = -1;

	while (ib->wqlen > 0) {
		if (imsgbuf_write(ib) == -1)
			return -1;
		if (ib->wqlen == 0)
			break;
		if (deadline != NULL) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
			    (deadline->tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
		}
		pfd.fd = ib->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)ms) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

int
imsg_get(struct imsgbuf *ib, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	size_t		 len, plen;

	if (ib->rlen < IMSG_HDRSIZE)
		return 0;
	memcpy(&hdr, ib->rbuf, sizeof(hdr));
	if (hdr.len & ~(IMSG_HASFD | IMSG_LENMASK))
		return -1;
	len = hdr.len & IMSG_LENMASK;
	if (len < IMSG_HDRSIZE || len > IMSG_MAXMSG)
		return -1;
	if (ib->rlen < len)
		return 0;

	plen = len - IMSG_HDRSIZE;
	memset(imsg, 0, sizeof(*imsg));
	/* One spare byte so that an empty payload is a valid pointer too. */
	if ((imsg->data = malloc(plen + 1)) == NULL)
		return -1;
	memcpy(imsg->data, ib->rbuf + IMSG_HDRSIZE, plen);
	imsg->len = plen;
	imsg->rpos = 0;
	imsg->hdr = hdr;
	imsg->fd = -1;
	if (hdr.len & IMSG_HASFD) {
		if (ib->nrfds > 0) {
			imsg->fd = ib->rfds[0];
			ib->nrfds--;
			memmove(ib->rfds, ib->rfds + 1,
			    ib->nrfds * sizeof(ib->rfds[0]));
		} else
			log_warnx("imsg: type %u announces a descriptor "
			    "that did not arrive", hdr.type);
	}
	memmove(ib->rbuf, ib->rbuf + len, ib->rlen - len);
	ib->rlen -= len;
	/* The tail the move left behind still holds the message. */
	explicit_bzero(ib->rbuf + ib->rlen, len);
	return 1;
}

void
imsg_free(struct imsg *imsg)
{
	if (imsg->data != NULL)
		explicit_bzero(imsg->data, imsg->len);
	free(imsg->data);
	imsg->data = NULL;
	imsg->len = imsg->rpos = 0;
}

struct ibuf *
imsg_create(uint32_t type, uint32_t peerid, int fd)
{
	struct ibuf	*b;
	struct imsg_hdr	 hdr;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->buf = malloc(IMSG_INITSIZE)) == NULL) {
		free(b);
		return NULL;
	}
	b->size = IMSG_INITSIZE;
	b->fd = fd;
	/* The length and pid are filled in by imsg_close(). */
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.peerid = peerid;
	memcpy(b->buf, &hdr, sizeof(hdr));
	b->wpos = IMSG_HDRSIZE;
	return b;
}

static int
ibuf_reserve(struct ibuf *b, size_t n)
{
	uint8_t	*p;
	size_t	 nsize;

	if (b->error || n > IMSG_MAXMSG - b->wpos) {
		b->error = 1;
		return -1;
	}
	if (b->wpos + n <= b->size)
		return 0;
	nsize = b->size;
	while (nsize < b->wpos + n)
		nsize *= 2;
	if (nsize > IMSG_MAXMSG)
		nsize = IMSG_MAXMSG;
	/* Not realloc(3): it would leave the old bytes in freed memory. */
	if ((p = malloc(nsize)) == NULL) {
		b->error = 1;
		return -1;
	}
	memcpy(p, b->buf, b->wpos);
	explicit_bzero(b->buf, b->size);
	free(b->buf);
	b->buf = p;
	b->size = nsize;
	return 0;
}

static int
ibuf_add(struct ibuf *b, const void *data, size_t n)
{
	if (ibuf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->buf + b->wpos, data, n);
	b->wpos += n;
	return 0;
}

int
ibuf_add_u8(struct ibuf *b, uint8_t v)
{
	return ibuf_add(b, &v, 1);
}

int
ibuf_add_u16(struct ibuf *b, uint16_t v)
{
	uint8_t	 le[2];

	le[0] = v & 0xff;
	le[1] = v >> 8;
	return ibuf_add(b, le, sizeof(le));
}

int
ibuf_add_u32(struct ibuf *b, uint32_t v)
{
	uint8_t	 le[4];
	int	 i;

	for (i = 0; i < 4; i++)
		le[i] = (v >> (8 * i)) & 0xff;
	return ibuf_add(b, le, sizeof(le));
}

int
ibuf_add_u64(struct ibuf *b, uint64_t v)
{
	uint8_t	 le[8];
	int	 i;

	for (i = 0; i < 8; i++)
		le[i] = (v >> (8 * i)) & 0xff;
	return ibuf_add(b, le, sizeof(le));
}

int
ibuf_add_str(struct ibuf *b, const char *s)
{
	size_t	 len = strlen(s);

	if (len > UINT16_MAX) {
		b->error = 1;
		return -1;
	}
	/* Check the whole field first so that nothing half is added. */
	if (ibuf_reserve(b, 2 + len) == -1)
		return -1;
	if (ibuf_add_u16(b, len) == -1)
		return -1;
	return ibuf_add(b, s, len);
}

int
ibuf_add_blob(struct ibuf *b, const void *data, size_t len)
{
	if (len > IMSG_MAXPAYLOAD) {
		b->error = 1;
		return -1;
	}
	if (ibuf_reserve(b, 4 + len) == -1)
		return -1;
	if (ibuf_add_u32(b, len) == -1)
		return -1;
	return ibuf_add(b, data, len);
}

/* Frees the buffer and closes a descriptor that was never sent. */
void
ibuf_free(struct ibuf *b)
{
	if (b == NULL)
		return;
	if (b->fd != -1)
		close(b->fd);
	if (b->buf != NULL)
		explicit_bzero(b->buf, b->size);
	free(b->buf);
	free(b);
}

int
imsg_close(struct imsgbuf *ib, struct ibuf *b)
{
	struct imsg_hdr	 hdr;

	if (b == NULL)
		return -1;
	if (b->error || b->wpos > IMSG_MAXMSG) {
		ibuf_free(b);
		return -1;
	}
	memcpy(&hdr, b->buf, sizeof(hdr));
	hdr.len = b->wpos;
	if (b->fd != -1)
		hdr.len |= IMSG_HASFD;
	hdr.pid = ib->pid;
	memcpy(b->buf, &hdr, sizeof(hdr));
	b->rpos = 0;
	TAILQ_INSERT_TAIL(&ib->wq, b, entry);
	ib->wqlen++;
	return 0;
}

int
imsg_compose(struct imsgbuf *ib, uint32_t type, uint32_t peerid, int fd)
{
	struct ibuf	*b;

	if ((b = imsg_create(type, peerid, fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	return imsg_close(ib, b);
}

/* Getters: each checks the bytes are there before it moves. */

static int
imsg_get_raw(struct imsg *imsg, void *dst, size_t n)
{
	if (imsg->data == NULL || n > imsg->len - imsg->rpos)
		return -1;
	memcpy(dst, imsg->data + imsg->rpos, n);
	imsg->rpos += n;
	return 0;
}

static uint64_t
le_decode(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int
imsg_get_u8(struct imsg *imsg, uint8_t *v)
{
	return imsg_get_raw(imsg, v, 1);
}

int
imsg_get_u16(struct imsg *imsg, uint16_t *v)
{
	uint8_t	 le[2];

	if (imsg_get_raw(imsg, le, sizeof(le)) == -1)
		return -1;
	*v = le_decode(le, sizeof(le));
	return 0;
}

int
imsg_get_u32(struct imsg *imsg, uint32_t *v)
{
	uint8_t	 le[4];

	if (imsg_get_raw(imsg, le, sizeof(le)) == -1)
		return -1;
	*v = le_decode(le, sizeof(le));
	return 0;
}

int
imsg_get_u64(struct imsg *imsg, uint64_t *v)
{
	uint8_t	 le[8];

	if (imsg_get_raw(imsg, le, sizeof(le)) == -1)
		return -1;
	*v = le_decode(le, sizeof(le));
	return 0;
}

int
imsg_get_str(struct imsg *imsg, char *dst, size_t dstsz)
{
	size_t	 save = imsg->rpos;
	uint16_t len;
	const uint8_t *p;

	if (imsg_get_u16(imsg, &len) == -1)
		return -1;
	if (len > imsg->len - imsg->rpos || dstsz == 0 || len > dstsz - 1)
		goto fail;
	p = imsg->data + imsg->rpos;
	if (memchr(p, '\0', len) != NULL)
		goto fail;
	memcpy(dst, p, len);
	dst[len] = '\0';
	imsg->rpos += len;
	return 0;
 fail:
	imsg->rpos = save;
	return -1;
}

int
imsg_get_blob(struct imsg *imsg, const void **data, size_t *len)
{
	size_t	 save = imsg->rpos;
	uint32_t n;

	if (imsg_get_u32(imsg, &n) == -1)
		return -1;
	if (n > imsg->len - imsg->rpos) {
		imsg->rpos = save;
		return -1;
	}
	*data = imsg->data + imsg->rpos;
	*len = n;
	imsg->rpos += n;
	return 0;
}

int
imsg_get_end(struct imsg *imsg)
{
	return imsg->rpos == imsg->len ? 0 : -1;
}

/* libevent glue */

void
imsgev_init(struct imsgev *iev, int fd,
    void (*handler)(struct imsgev *, struct imsg *, void *), void *arg)
{
	imsgbuf_init(&iev->ibuf, fd);
	iev->handler = handler;
	iev->arg = arg;
	iev->events = 0;
	iev->drained = NULL;
	iev->lowat = 0;
	iev->above = 0;
	imsgev_update(iev);
}

void
imsgev_clear(struct imsgev *iev)
{
	/* Also takes a turn made active off the loop. */
	if (iev->events & IMSGEV_ONLOOP)
		event_del(&iev->ev);
	iev->events = 0;
	imsgbuf_clear(&iev->ibuf);
	if (iev->ibuf.fd != -1)
		close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
}

void
imsgev_update(struct imsgev *iev)
{
	short	 want, armed, rpend;

	if (iev->ibuf.fd == -1 || (iev->events & IMSGEV_DEAD))
		return;
	want = 0;
	if (!(iev->events & IMSGEV_PAUSED))
		want |= EV_READ;
	else if ((iev->events & EV_READ) && !(iev->events & IMSGEV_RDIDLE))
		want |= EV_READ;	/* the pause is likely short */
	if (iev->ibuf.wqlen == 0)
		iev->events &= ~IMSGEV_WBLOCKED;
	else if (iev->events & IMSGEV_WBLOCKED)
		want |= EV_WRITE;
	armed = iev->events & IMSGEV_ARMED;
	if (want != armed) {
		/* event_del also drops turns made active: redo them. */
		rpend = iev->events & IMSGEV_RPEND;
		if (iev->events & IMSGEV_ONLOOP)
			event_del(&iev->ev);
		iev->events &= ~IMSGEV_ONLOOP;
		event_set(&iev->ev, iev->ibuf.fd, want | EV_PERSIST,
		    imsgev_dispatch, iev);
		if (want != 0 && event_add(&iev->ev, NULL) == -1)
			fatal("imsgev: event_add");
		iev->events |= want;
		if (rpend)
			imsgev_activate_read(iev);
	}
	if (iev->ibuf.wqlen > 0 && !(want & EV_WRITE) &&
	    !(iev->events & IMSGEV_WPEND)) {
		event_active(&iev->ev, EV_WRITE, 1);
		iev->events |= IMSGEV_WPEND;
	}
}

void
imsgev_pause(struct imsgev *iev)
{
	if (iev->ibuf.fd == -1 || (iev->events & IMSGEV_DEAD))
		return;
	iev->events |= IMSGEV_PAUSED;
	imsgev_update(iev);
}

void
imsgev_resume(struct imsgev *iev)
{
	if (iev->ibuf.fd == -1 || (iev->events & IMSGEV_DEAD) ||
	    !(iev->events & IMSGEV_PAUSED))
		return;
	iev->events &= ~(IMSGEV_PAUSED | IMSGEV_RDIDLE);
	imsgev_update(iev);
	/* Messages already read, or the end, wait for no new input. */
	if (iev->ibuf.rlen > 0 || (iev->events & IMSGEV_EOF))
		imsgev_activate_read(iev);
}

static void
imsgev_activate_read(struct imsgev *iev)
{
	event_active(&iev->ev, EV_READ, 1);
	iev->events |= IMSGEV_RPEND;
}

int
imsgev_send(struct imsgev *iev, struct ibuf *b)
{
	int	 rv;

	rv = imsg_close(&iev->ibuf, b);
	if (iev->ibuf.wqlen > iev->lowat)
		iev->above = 1;
	imsgev_update(iev);
	return rv;
}

/* The channel is over: stop watching it and tell the handler, once. */
static void
imsgev_die(struct imsgev *iev)
{
	if (iev->events & IMSGEV_ONLOOP)
		event_del(&iev->ev);
	iev->events = IMSGEV_DEAD;
	iev->handler(iev, NULL, iev->arg);
}

/*
 * A write failed: the peer is gone.  What it sent before it went still
 * counts (an mta's results, say: dropping them would repeat deliveries),
 * so dispatch that first, unless the channel is paused.
 */
static void
imsgev_read_rest(struct imsgev *iev)
{
	struct imsg	 imsg;
	int		 rv;

	while (!(iev->events & IMSGEV_PAUSED)) {
		if ((rv = imsg_get(&iev->ibuf, &imsg)) == -1)
			break;
		if (rv == 0) {
			if ((iev->events & IMSGEV_EOF) ||
			    imsgbuf_read(&iev->ibuf) <= 0)
				break;
			continue;
		}
		iev->handler(iev, &imsg, iev->arg);
		imsg_free(&imsg);
		if (iev->ibuf.fd == -1 || (iev->events & IMSGEV_DEAD))
			return;
	}
	imsgev_die(iev);
}

static void
imsgev_dispatch(int fd, short event, void *arg)
{
	struct imsgev	*iev = arg;
	struct imsg	 imsg;
	ssize_t		 n;
	int		 rv;

	if (event & EV_READ)
		iev->events &= ~IMSGEV_RPEND;
	if (event & EV_WRITE) {
		iev->events &= ~IMSGEV_WPEND;
		if (imsgbuf_write(&iev->ibuf) == -1) {
			imsgev_read_rest(iev);
			return;
		}
		if (iev->ibuf.wqlen > 0)
			iev->events |= IMSGEV_WBLOCKED;
		if (iev->above && iev->ibuf.wqlen <= iev->lowat &&
		    iev->drained != NULL) {
			iev->above = 0;
			iev->drained(iev, iev->arg);
			if (iev->ibuf.fd == -1 || (iev->events & IMSGEV_DEAD))
				return;
		}
	}
	if ((event & EV_READ) && (iev->events & IMSGEV_PAUSED))
		iev->events |= IMSGEV_RDIDLE;
	else if (event & EV_READ) {
		/*
		 * Nothing is read while rbuf holds a whole message left
		 * from a pause, nor after the end.
		 */
		if (!(iev->events & IMSGEV_EOF) &&
		    iev->ibuf.rlen < sizeof(iev->ibuf.rbuf)) {
			n = imsgbuf_read(&iev->ibuf);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EWOULDBLOCK))
				iev->events |= IMSGEV_EOF;
		}
		/* Messages that arrived before the end still count. */
		while (!(iev->events & IMSGEV_PAUSED)) {
			rv = imsg_get(&iev->ibuf, &imsg);
			if (rv == 0)
				break;
			if (rv == -1) {
				log_warnx("imsg: malformed message on fd %d",
				    fd);
				imsgev_die(iev);
				return;
			}
			iev->handler(iev, &imsg, iev->arg);
			imsg_free(&imsg);
			/* The handler may have closed the channel. */
			if (iev->ibuf.fd == -1 ||
			    (iev->events & IMSGEV_DEAD))
				return;
		}
		if ((iev->events & IMSGEV_EOF) &&
		    !(iev->events & IMSGEV_PAUSED)) {
			imsgev_die(iev);
			return;
		}
	}
	imsgev_update(iev);
}
