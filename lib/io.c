/*
 * Copyright (c) 2026 The tsamba authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * Non-blocking buffered socket I/O for line protocols, plain or libtls,
 * on libevent (the base set up by event_init()).
 *
 * Contract details the header leaves open:
 * - The line limit (io_set_maxline) counts the line without its CRLF or
 *   LF.  SMTP's 1000 octets including CRLF is io_set_maxline(io, 998).
 * - Input is held in one buffer of at most max(64 KiB, 2 * maxline + 2)
 *   bytes; reading stops while it is full, so a peer that never sends a
 *   newline costs a bounded amount of memory.  The rest of an over-long
 *   line is dropped as it arrives and never shows in io_data().
 * - Reading also stops while io_pause_read() is in effect, while more
 *   than the output limit is queued, and during a TLS handshake.
 *   io_resume_read() delivers IO_DATAIN again (from the event loop, not
 *   from inside the call) if input is still buffered, so pipelined
 *   commands left over when reading was paused get processed.
 * - IO_DISCONNECTED comes once, after the IO_DATAIN for the last bytes,
 *   and not while reading is paused by the caller.
 * - io_write(), io_print() return 0, io_printf() the number of bytes
 *   queued; all return -1 on failure.  Output is written from the event
 *   loop; nothing is sent from inside these calls.
 * - io_start_tls_server() discards any input already buffered: bytes a
 *   client pipelined behind STARTTLS were sent in clear and must not be
 *   taken as if they came over TLS (CVE-2011-0411).  Output queued
 *   before the call (the "220 Ready" reply) is sent in clear first, and
 *   output queued after it goes out over TLS once the handshake is done.
 * - io_start_tls_client(): libtls connects on the client context itself,
 *   so the io takes ownership of that context and io_free() frees it.
 * - io_free() may be called from inside the callback; the struct io is
 *   then released when the callback returns and must not be used by the
 *   caller after the call.  The io code never touches it again either.
 * - The idle timer restarts on every read, write and handshake end; after
 *   IO_TIMEOUT it stays off until the next I/O or io_set_timeout().
 * - io_new() returns NULL (errno set, fd still the caller's) on failure.
 * - A write that cannot go on (EPIPE, ECONNRESET, or libtls saying the
 *   peer closed, which tls_write() reports as 0) is IO_ERROR: the caller
 *   closes the session and logs io_error().  It is never retried.
 * - SIGPIPE: plain writes use MSG_NOSIGNAL, but libtls writes do not;
 *   daemons ignore SIGPIPE.
 *
 * Cost of the event loop: every change of what epoll watches is a system
 * call, so the fd events change only when the wanted set really does.
 * Output is written straight from the handler that queued it (or from a
 * deferred turn of the loop), and EV_WRITE is watched only after a write
 * came back short.  A read event no longer wanted only because of a
 * pause or a full buffer is left armed: it costs nothing while the peer
 * waits for our reply, and is dropped the first time it fires for
 * nothing.  The idle timer is one event added when it is not pending;
 * I/O only records the time, and the timer, when it fires early, waits
 * for the rest of the interval.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tls.h>
#include <unistd.h>

#include "io.h"

#define IO_MAXLINE_DEFAULT	1000
#define IO_INBUF_MIN		(64 * 1024)
#define IO_INBUF_START		4096
#define IO_TLS_CHUNK		16384
#define IO_IOV_MAX		16

enum io_tls_state {
	IO_TLS_NONE,		/* plain socket */
	IO_TLS_FLUSH,		/* sending queued cleartext before handshake */
	IO_TLS_HANDSHAKE,
	IO_TLS_READY,
};

struct io {
	int			 fd;
	int			 tcp;		/* TCP_QUICKACK applies */
	io_cb			 cb;
	void			*arg;

	struct event		 ev_rd;		/* the fd, EV_READ */
	struct event		 ev_wr;		/* the fd, EV_WRITE */
	short			 armed;		/* which of them are added */
	int			 rd_idle;	/* armed read fired unwanted */
	int			 wr_blocked;	/* last write came back short */
	struct event		 ev_timer;
	struct event		 ev_defer;	/* work that must not run
						   inside an api call */
	int			 timeout;	/* msec, 0 = none */
	uint64_t		 last_io;	/* msec, monotonic */
	int			 resumed;	/* deliver buffered input */

	/* input: ibuf[rpos, wpos) is buffered, isize <= icap */
	char			*ibuf;
	size_t			 isize;
	size_t			 icap;
	size_t			 rpos;
	size_t			 wpos;
	size_t			 maxline;
	int			 discarding;	/* rest of an over-long line */
	int			 release;	/* free ibuf when emptied */

	struct evbuffer		*out;
	size_t			 lowat;
	size_t			 outlimit;	/* 0 = none */
	size_t			 plain_left;	/* cleartext before TLS */

	struct tls		*tls;
	int			 tls_state;
	short			 hs_wants;	/* EV_READ or EV_WRITE */
	short			 rd_wants;
	short			 wr_wants;
	int			 tls_pending;	/* libtls may hold input */
	char			 tls_info[128];

	int			 user_paused;
	int			 eof;
	int			 eof_reported;
	int			 dead;		/* after an error */
	int			 refs;		/* handlers running */
	int			 freed;
	char			 err[256];
};

static void	io_dispatch(int, short, void *);
static void	io_timer(int, short, void *);
static void	io_deferred(int, short, void *);
static void	io_reload(struct io *);
static short	io_needed(struct io *);
static void	io_arm(struct io *, short);
static uint64_t	io_now(void);
static void	io_timer_start(struct io *, uint64_t);
static void	io_defer(struct io *);
static void	io_destroy(struct io *);
static void	io_enter(struct io *);
static void	io_leave(struct io *);
static void	io_touch(struct io *);
static void	io_set_error(struct io *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
static void	io_fail(struct io *);
static int	io_want_read(struct io *);
static int	io_want_write(struct io *);
static void	io_fill(struct io *);
static ssize_t	io_read_plain(struct io *, size_t);
static ssize_t	io_read_tls(struct io *, size_t);
static void	io_flush(struct io *);
static void	io_flush_now(struct io *);
static ssize_t	io_write_plain(struct io *, size_t);
static ssize_t	io_write_tls(struct io *, size_t);
static void	io_handshake(struct io *);
static void	io_skip_discard(struct io *);
static int	io_make_room(struct io *);

/*
 * Output is already gathered into whole replies before each write, so
 * Nagle's algorithm only adds a delayed-ACK wait (about 40 ms) between a
 * reply written in pieces (TLS records, session tickets) and the peer's
 * next command.  Not a TCP socket (LMTP over UNIX): nothing to do.
 * Returns whether it is TCP.
 */
static int
io_set_nodelay(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	int			 on = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return (0);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return (1);
}

/*
 * The other half of the same wait: a peer that writes one command in
 * two pieces (imaplib sends an APPEND literal, then its CRLF) has its
 * Nagle hold the second until we ACK the first, and we have nothing to
 * answer yet, so Linux delays that ACK by 40 ms.  TCP_QUICKACK ACKs at
 * once, but the kernel drops back to delayed ACKs by itself, so it is
 * set again after every read (as Dovecot does).
 */
static void
io_quickack(struct io *io)
{
#ifdef TCP_QUICKACK
	int	 on = 1;

	if (io->tcp)
		(void)setsockopt(io->fd, IPPROTO_TCP, TCP_QUICKACK, &on,
		    sizeof(on));
#endif
}

struct io *
io_new(int fd, io_cb cb, void *arg)
{
	struct io	*io;
	int		 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return (NULL);
	if ((io = calloc(1, sizeof(*io))) == NULL)
		return (NULL);
	io->tcp = io_set_nodelay(fd);
	if ((io->out = evbuffer_new()) == NULL) {
		free(io);
		return (NULL);
	}
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->maxline = IO_MAXLINE_DEFAULT;
	io->icap = IO_INBUF_MIN;
	io->rd_wants = EV_READ;
	io->wr_wants = EV_WRITE;
	event_set(&io->ev_rd, fd, EV_READ | EV_PERSIST, io_dispatch, io);
	event_set(&io->ev_wr, fd, EV_WRITE | EV_PERSIST, io_dispatch, io);
	evtimer_set(&io->ev_timer, io_timer, io);
	evtimer_set(&io->ev_defer, io_deferred, io);
	io_reload(io);
	return (io);
}

void
io_free(struct io *io)
{
	if (io == NULL || io->freed)
		return;
	io->freed = 1;
	io_arm(io, 0);
	evtimer_del(&io->ev_timer);
	evtimer_del(&io->ev_defer);
	if (io->tls != NULL) {
		/* One try at close_notify; never wait for the peer. */
		if (io->tls_state == IO_TLS_READY)
			(void)tls_close(io->tls);
		tls_free(io->tls);
		io->tls = NULL;
	}
	if (io->fd != -1)
		close(io->fd);
	io->fd = -1;
	free(io->ibuf);
	io->ibuf = NULL;
	evbuffer_free(io->out);
	io->out = NULL;
	if (io->refs == 0)
		io_destroy(io);
}

static void
io_destroy(struct io *io)
{
	free(io);
}

/* Keep io alive while a handler may call back into the user. */
static void
io_enter(struct io *io)
{
	io->refs++;
}

static void
io_leave(struct io *io)
{
	if (--io->refs == 0 && io->freed) {
		io_destroy(io);
		return;
	}
	if (!io->freed)
		io_reload(io);
}

static void
io_callback(struct io *io, int event)
{
	io->cb(io, event, io->arg);
}

void
io_set_timeout(struct io *io, int msec)
{
	io->timeout = msec > 0 ? msec : 0;
	/* A pending timer may be for a longer interval than the new one. */
	evtimer_del(&io->ev_timer);
	io_touch(io);
}

void
io_set_maxline(struct io *io, size_t maxline)
{
	if (maxline == 0)
		maxline = 1;
	io->maxline = maxline;
	io->icap = IO_INBUF_MIN;
	if (maxline < (SIZE_MAX - 2) / 2 && 2 * maxline + 2 > io->icap)
		io->icap = 2 * maxline + 2;
	if (io->icap < io->isize)
		io->icap = io->isize;
	io_reload(io);
}

void
io_set_lowat(struct io *io, size_t lowat)
{
	io->lowat = lowat;
}

/*
 * For a connection that mostly waits (a relay): the input buffer is
 * freed whenever the callback has taken all of it, and allocated again
 * at its size for the next read.
 */
void
io_set_release(struct io *io)
{
	io->release = 1;
}

void
io_pause_read(struct io *io)
{
	io->user_paused = 1;
	io_reload(io);
}

void
io_resume_read(struct io *io)
{
	if (io->user_paused && (io->wpos > io->rpos || io->eof)) {
		io->resumed = 1;
		io_defer(io);
	}
	io->user_paused = 0;
	io_reload(io);
}

void
io_set_output_limit(struct io *io, size_t limit)
{
	io->outlimit = limit;
	io_reload(io);
}

int
io_write(struct io *io, const void *buf, size_t len)
{
	if (io->freed)
		return (-1);
	if (len == 0)
		return (0);
	if (evbuffer_add(io->out, buf, len) == -1)
		return (-1);
	io_reload(io);
	return (0);
}

int
io_print(struct io *io, const char *s)
{
	return (io_write(io, s, strlen(s)));
}

int
io_printf(struct io *io, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = io_vprintf(io, fmt, ap);
	va_end(ap);
	return (r);
}

int
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	int	 r;

	if (io->freed)
		return (-1);
	if ((r = evbuffer_add_vprintf(io->out, fmt, ap)) == -1)
		return (-1);
	io_reload(io);
	return (r);
}

size_t
io_queued(struct io *io)
{
	if (io->out == NULL)
		return (0);
	return (evbuffer_get_length(io->out));
}

/*
 * Lines are cut in place: the terminator of the line being returned is
 * overwritten with a NUL, which is safe because those bytes are consumed.
 */
char *
io_getline(struct io *io, size_t *lenp, int *toolong, int *bare)
{
	char	*p, *lf;
	size_t	 avail, len, consume;

	*lenp = 0;
	*toolong = 0;
	*bare = 0;
	if (io->ibuf == NULL)
		return (NULL);
	io_skip_discard(io);
	if (io->discarding)
		return (NULL);
	p = io->ibuf + io->rpos;
	avail = io->wpos - io->rpos;
	if ((lf = memchr(p, '\n', avail)) != NULL) {
		len = lf - p;
		consume = len + 1;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		else
			*bare = 1;
	} else if (avail >= io->maxline + 2) {
		/*
		 * Even with a CR last, this is more than maxline: give the
		 * head once and drop the rest up to the LF.
		 */
		len = avail;
		consume = avail;
		io->discarding = 1;
	} else
		return (NULL);
	if (len > io->maxline) {
		len = io->maxline;
		*toolong = 1;
	}
	if (memchr(p, '\r', len) != NULL)
		*bare = 1;
	p[len] = '\0';
	io->rpos += consume;
	if (io->rpos == io->wpos)
		io->rpos = io->wpos = 0;
	*lenp = len;
	/* A full buffer may have stopped reading; room was just made. */
	io_reload(io);
	return (p);
}

size_t
io_datalen(struct io *io)
{
	return (io->wpos - io->rpos);
}

const void *
io_data(struct io *io)
{
	if (io->ibuf == NULL)
		return ("");
	return (io->ibuf + io->rpos);
}

void
io_drain(struct io *io, size_t len)
{
	if (len > io->wpos - io->rpos)
		len = io->wpos - io->rpos;
	io->rpos += len;
	if (io->rpos == io->wpos)
		io->rpos = io->wpos = 0;
	io_reload(io);
}

int
io_start_tls_server(struct io *io, struct tls *ctx)
{
	if (io->tls != NULL || io->freed || io->dead) {
		io_set_error(io, "TLS already started");
		return (-1);
	}
	if (tls_accept_socket(ctx, &io->tls, io->fd) == -1) {
		io_set_error(io, "tls_accept_socket: %s", tls_error(ctx));
		io->tls = NULL;
		return (-1);
	}
	/* Cleartext pipelined behind STARTTLS must never count as TLS. */
	io->rpos = io->wpos = 0;
	io->discarding = 0;
	io->hs_wants = EV_READ;
	io->plain_left = io_queued(io);
	io->tls_state = io->plain_left ? IO_TLS_FLUSH : IO_TLS_HANDSHAKE;
	io_touch(io);
	io_reload(io);
	return (0);
}

int
io_start_tls_client(struct io *io, struct tls *ctx, const char *servername)
{
	if (io->tls != NULL || io->freed || io->dead) {
		io_set_error(io, "TLS already started");
		return (-1);
	}
	if (tls_connect_socket(ctx, io->fd, servername) == -1) {
		io_set_error(io, "tls_connect_socket: %s", tls_error(ctx));
		return (-1);
	}
	io->tls = ctx;
	io->hs_wants = EV_WRITE;
	io->plain_left = io_queued(io);
	io->tls_state = io->plain_left ? IO_TLS_FLUSH : IO_TLS_HANDSHAKE;
	io_touch(io);
	io_reload(io);
	return (0);
}

int
io_is_tls(struct io *io)
{
	return (io->tls_state == IO_TLS_READY);
}

const char *
io_tls_info(struct io *io)
{
	const char	*v, *c;

	if (io->tls_state != IO_TLS_READY)
		return (NULL);
	if ((v = tls_conn_version(io->tls)) == NULL)
		v = "unknown";
	if ((c = tls_conn_cipher(io->tls)) == NULL)
		c = "unknown";
	(void)snprintf(io->tls_info, sizeof(io->tls_info), "%s %s", v, c);
	return (io->tls_info);
}

const char *
io_error(struct io *io)
{
	return (io->err[0] ? io->err : "no error");
}

static void
io_set_error(struct io *io, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(io->err, sizeof(io->err), fmt, ap);
	va_end(ap);
}

/* Stop all I/O and tell the user; only from a handler. */
static void
io_fail(struct io *io)
{
	io->dead = 1;
	io_reload(io);
	io_callback(io, IO_ERROR);
}

static uint64_t
io_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void
io_timer_start(struct io *io, uint64_t msec)
{
	struct timeval	 tv;

	tv.tv_sec = msec / 1000;
	tv.tv_usec = (msec % 1000) * 1000;
	evtimer_add(&io->ev_timer, &tv);
}

/*
 * Progress restarts the idle interval.  Only the time is noted when the
 * timer is already running: io_timer() finds out it fired early.
 */
static void
io_touch(struct io *io)
{
	if (io->freed)
		return;
	if (io->timeout == 0) {
		evtimer_del(&io->ev_timer);
		return;
	}
	io->last_io = io_now();
	if (!evtimer_pending(&io->ev_timer, NULL))
		io_timer_start(io, io->timeout);
}

static void
io_defer(struct io *io)
{
	struct timeval	 tv = { 0, 0 };

	if (!io->freed)
		evtimer_add(&io->ev_defer, &tv);
}

static int
io_want_read(struct io *io)
{
	if (io->dead || io->eof || io->user_paused)
		return (0);
	if (io->tls_state != IO_TLS_NONE && io->tls_state != IO_TLS_READY)
		return (0);
	if (io->outlimit && io_queued(io) > io->outlimit)
		return (0);
	if (io->ibuf != NULL && io->rpos == 0 && io->wpos >= io->icap)
		return (0);
	return (1);
}

static int
io_want_write(struct io *io)
{
	if (io->dead || io->tls_state == IO_TLS_HANDSHAKE)
		return (0);
	return (io_queued(io) > 0);
}

/* The fd events the current state needs the loop to watch. */
static short
io_needed(struct io *io)
{
	short	 flags = 0;

	if (io->tls_state == IO_TLS_HANDSHAKE) {
		if (!io->dead)
			flags = io->hs_wants;
	} else {
		if (io_want_read(io))
			flags |= io->rd_wants;
		/* Until a write comes back short, writing needs no poll. */
		if (io_want_write(io) && io->wr_blocked)
			flags |= io->wr_wants;
	}
	return (flags);
}

/* Add and delete the fd events so that exactly flags are watched. */
static void
io_arm(struct io *io, short flags)
{
	short	 change = flags ^ io->armed;

	if (change & EV_READ) {
		if (flags & EV_READ)
			event_add(&io->ev_rd, NULL);
		else
			event_del(&io->ev_rd);
	}
	if (change & EV_WRITE) {
		if (flags & EV_WRITE)
			event_add(&io->ev_wr, NULL);
		else
			event_del(&io->ev_wr);
	}
	io->armed = flags;
}

/* Bring the fd events and the deferred work up to the current state. */
static void
io_reload(struct io *io)
{
	short	 flags;

	if (io->freed)
		return;
	if (io->tls_pending && io_want_read(io))
		io_defer(io);
	flags = io_needed(io);
	if (flags & EV_READ)
		io->rd_idle = 0;
	/*
	 * Output nobody has tried to write yet: the handler running now
	 * flushes it on its way out, or else a deferred turn does.
	 */
	if (io->tls_state != IO_TLS_HANDSHAKE && io_want_write(io) &&
	    !io->wr_blocked && io->refs == 0)
		io_defer(io);
	/* A pause is usually short and the peer quiet meanwhile. */
	if ((io->armed & EV_READ) && !io->rd_idle && !io->dead && !io->eof)
		flags |= EV_READ;
	if (flags != io->armed)
		io_arm(io, flags);
}

static void
io_dispatch(int fd, short ev, void *arg)
{
	struct io	*io = arg;

	io_enter(io);
	/* A read event kept over a pause fired: now it goes. */
	if ((ev & EV_READ) && !(io_needed(io) & EV_READ))
		io->rd_idle = 1;
	if (io->tls_state == IO_TLS_HANDSHAKE) {
		if (ev & io->hs_wants)
			io_handshake(io);
		goto done;
	}
	if (io_want_write(io) && (ev & io->wr_wants)) {
		io_flush(io);
		if (io->freed || io->dead)
			goto done;
	}
	if (io_want_read(io) && (ev & io->rd_wants))
		io_fill(io);
	io_flush_now(io);
 done:
	io_leave(io);
}

static void
io_timer(int fd, short ev, void *arg)
{
	struct io	*io = arg;
	uint64_t	 now, deadline;

	if (io->timeout == 0)
		return;
	/* There was I/O since the timer started: wait for the rest. */
	now = io_now();
	deadline = io->last_io + io->timeout;
	if (now < deadline) {
		io_timer_start(io, deadline - now);
		return;
	}
	io_enter(io);
	io_callback(io, IO_TIMEOUT);
	io_leave(io);
}

/*
 * Deliver what io_resume_read() or a finished handshake left pending,
 * and write output queued from outside an io handler.
 */
static void
io_deferred(int fd, short ev, void *arg)
{
	struct io	*io = arg;
	int		 resumed = io->resumed;

	io_enter(io);
	io->resumed = 0;
	if (io->dead || io->user_paused)
		goto flush;
	if (io->eof) {
		if (!io->eof_reported) {
			io->eof_reported = 1;
			io_callback(io, IO_DISCONNECTED);
		}
	} else if (io->tls_pending && io_want_read(io))
		io_fill(io);
	else if (resumed && io->wpos > io->rpos)
		io_callback(io, IO_DATAIN);
 flush:
	io_flush_now(io);
	io_leave(io);
}

/* Drop the tail of an over-long line as it arrives. */
static void
io_skip_discard(struct io *io)
{
	char	*p, *lf;
	size_t	 avail;

	if (!io->discarding)
		return;
	p = io->ibuf + io->rpos;
	avail = io->wpos - io->rpos;
	if ((lf = memchr(p, '\n', avail)) != NULL) {
		io->rpos += lf - p + 1;
		io->discarding = 0;
	} else
		io->rpos = io->wpos;
	if (io->rpos == io->wpos)
		io->rpos = io->wpos = 0;
}

/* Compact and grow the input buffer; returns the free space. */
static int
io_make_room(struct io *io)
{
	size_t	 nsize;
	char	*n;

	if (io->rpos > 0) {
		memmove(io->ibuf, io->ibuf + io->rpos, io->wpos - io->rpos);
		io->wpos -= io->rpos;
		io->rpos = 0;
	}
	if (io->ibuf == NULL || (io->wpos == io->isize &&
	    io->isize < io->icap)) {
		/* A released buffer comes back at the size it had. */
		if (io->ibuf == NULL && io->isize > 0)
			nsize = io->isize;
		else
			nsize = io->isize ? io->isize * 2 : IO_INBUF_START;
		if (nsize > io->icap)
			nsize = io->icap;
		if ((n = realloc(io->ibuf, nsize)) == NULL) {
			io_set_error(io, "input buffer: %s", strerror(errno));
			return (-1);
		}
		io->ibuf = n;
		io->isize = nsize;
	}
	return (0);
}

static void
io_fill(struct io *io)
{
	ssize_t	 n;

	if (io_make_room(io) == -1) {
		io_fail(io);
		return;
	}
	if (io->wpos == io->isize)
		return;
	if (io->tls_state == IO_TLS_READY)
		n = io_read_tls(io, io->isize - io->wpos);
	else
		n = io_read_plain(io, io->isize - io->wpos);
	if (n == -1) {
		io_fail(io);
		return;
	}
	if (n > 0) {
		io_quickack(io);
		io_touch(io);
		io_skip_discard(io);
	}
	/* At EOF, leftovers get one more look before the disconnect. */
	if ((n > 0 || io->eof) && io->wpos > io->rpos) {
		io_callback(io, IO_DATAIN);
		if (io->freed || io->dead)
			return;
	}
	if (io->release && io->rpos == io->wpos) {
		free(io->ibuf);
		io->ibuf = NULL;
		io->rpos = io->wpos = 0;
	}
	if (io->eof && !io->user_paused && !io->eof_reported) {
		io->eof_reported = 1;
		io_reload(io);
		io_callback(io, IO_DISCONNECTED);
	}
}

/*
 * Replies queued by the callback usually fit in the socket buffer: send
 * them now rather than after another trip through the event loop.
 */
static void
io_flush_now(struct io *io)
{
	if (io->freed || io->dead || !io_want_write(io) ||
	    io->wr_wants != EV_WRITE)
		return;
	io_flush(io);
}

/* Returns bytes read (0 for none yet or EOF, see io->eof) or -1. */
static ssize_t
io_read_plain(struct io *io, size_t space)
{
	ssize_t	 n;

	n = read(io->fd, io->ibuf + io->wpos, space);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return (0);
		io_set_error(io, "read: %s", strerror(errno));
		return (-1);
	}
	if (n == 0)
		io->eof = 1;
	io->wpos += n;
	return (n);
}

/*
 * Read until libtls wants the socket again, so no decrypted input is
 * left inside libtls where no poll would see it; if the buffer fills
 * first, remember to come back.
 */
static ssize_t
io_read_tls(struct io *io, size_t space)
{
	ssize_t	 n, total = 0;

	io->tls_pending = 0;
	while (space > 0) {
		n = tls_read(io->tls, io->ibuf + io->wpos, space);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			io->rd_wants = n == TLS_WANT_POLLIN ? EV_READ :
			    EV_WRITE;
			return (total);
		}
		if (n == -1) {
			io_set_error(io, "tls_read: %s", tls_error(io->tls));
			return (-1);
		}
		if (n == 0) {
			io->eof = 1;
			return (total);
		}
		io->rd_wants = EV_READ;
		io->wpos += n;
		space -= n;
		total += n;
	}
	io->tls_pending = 1;
	return (total);
}

static void
io_flush(struct io *io)
{
	ssize_t	 n;
	size_t	 max;

	max = io_queued(io);
	if (io->tls_state == IO_TLS_FLUSH)
		max = io->plain_left;
	if (io->tls_state == IO_TLS_READY)
		n = io_write_tls(io, max);
	else
		n = io_write_plain(io, max);
	if (n == -1) {
		io_fail(io);
		return;
	}
	if (n == 0)
		return;
	io_touch(io);
	if (io->tls_state == IO_TLS_FLUSH) {
		io->plain_left -= n;
		if (io->plain_left == 0) {
			io->tls_state = IO_TLS_HANDSHAKE;
			io_reload(io);
		}
		return;
	}
	if (io_queued(io) <= io->lowat)
		io_callback(io, IO_LOWAT);
}

int
io_flush_until(struct io *io, const struct timespec *deadline)
{
	struct pollfd	 pfd;
	struct timespec	 now;
	long long	 ms;
	ssize_t		 n;

	if (io->freed || io->dead || (io->tls_state != IO_TLS_NONE &&
	    io->tls_state != IO_TLS_READY))
		return (io_queued(io) == 0 ? 0 : -1);
	while (io_queued(io) > 0) {
		if (io->tls_state == IO_TLS_READY)
			n = io_write_tls(io, io_queued(io));
		else
			n = io_write_plain(io, io_queued(io));
		if (n == -1)
			return (-1);
		if (io_queued(io) == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (deadline->tv_sec - now.tv_sec) * 1000LL +
		    (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return (-1);
		pfd.fd = io->fd;
		pfd.events = io->tls_state == IO_TLS_READY &&
		    io->wr_wants == EV_READ ? POLLIN : POLLOUT;
		if (poll(&pfd, 1, (int)ms) == -1 && errno != EINTR)
			return (-1);
	}
	return (0);
}

/* Write up to max bytes with sendmsg; returns bytes written or -1. */
static ssize_t
io_write_plain(struct io *io, size_t max)
{
	struct evbuffer_iovec	 vec[IO_IOV_MAX];
	struct iovec		 iov[IO_IOV_MAX];
	struct msghdr		 msg;
	ssize_t			 n, total = 0;
	int			 i, nvec;

	while (max > 0) {
		nvec = evbuffer_peek(io->out, max, NULL, vec, IO_IOV_MAX);
		if (nvec > IO_IOV_MAX)
			nvec = IO_IOV_MAX;
		for (i = 0; i < nvec; i++) {
			iov[i].iov_base = vec[i].iov_base;
			iov[i].iov_len = vec[i].iov_len;
		}
		/* peek returns whole chunks: trim the last to max */
		for (i = 0, n = 0; i < nvec; i++) {
			if ((size_t)n + iov[i].iov_len > max) {
				iov[i].iov_len = max - n;
				nvec = i + 1;
				break;
			}
			n += iov[i].iov_len;
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = nvec;
		n = sendmsg(io->fd, &msg, MSG_NOSIGNAL);
		if (n == -1 && errno == ENOTSOCK)
			n = writev(io->fd, iov, nvec);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			io_set_error(io, "write: %s", strerror(errno));
			return (-1);
		}
		/* Never for a stream socket; not retried, so never a spin. */
		if (n == 0) {
			io_set_error(io, "write: nothing written");
			return (-1);
		}
		evbuffer_drain(io->out, n);
		total += n;
		max -= n;
	}
	io->wr_blocked = max > 0;
	return (total);
}

static ssize_t
io_write_tls(struct io *io, size_t max)
{
	ssize_t	 n, total = 0;
	size_t	 len;
	void	*p;

	while (max > 0) {
		len = max < IO_TLS_CHUNK ? max : IO_TLS_CHUNK;
		if ((p = evbuffer_pullup(io->out, len)) == NULL) {
			io_set_error(io, "output buffer: out of memory");
			return (-1);
		}
		n = tls_write(io->tls, p, len);
		if (n == TLS_WANT_POLLIN || n == TLS_WANT_POLLOUT) {
			io->wr_wants = n == TLS_WANT_POLLIN ? EV_READ :
			    EV_WRITE;
			break;
		}
		if (n == -1) {
			io_set_error(io, "tls_write: %s", tls_error(io->tls));
			return (-1);
		}
		/*
		 * 0 is libtls saying the peer closed (its close_notify came,
		 * or the socket hit EOF): nothing more will ever be written,
		 * and retrying would spin in this loop forever.
		 */
		if (n == 0) {
			io_set_error(io, "tls_write: connection closed by peer");
			return (-1);
		}
		io->wr_wants = EV_WRITE;
		evbuffer_drain(io->out, n);
		total += n;
		max -= n;
	}
	io->wr_blocked = max > 0;
	return (total);
}

static void
io_handshake(struct io *io)
{
	int	 r;

	r = tls_handshake(io->tls);
	if (r == TLS_WANT_POLLIN) {
		io->hs_wants = EV_READ;
		return;
	}
	if (r == TLS_WANT_POLLOUT) {
		io->hs_wants = EV_WRITE;
		return;
	}
	if (r == -1) {
		io_set_error(io, "TLS handshake: %s", tls_error(io->tls));
		io_fail(io);
		return;
	}
	io->tls_state = IO_TLS_READY;
	io->rd_wants = EV_READ;
	io->wr_wants = EV_WRITE;
	/* The peer's first records may already sit inside libtls. */
	io->tls_pending = 1;
	io_defer(io);
	io_touch(io);
	io_reload(io);
	io_callback(io, IO_TLSREADY);
}
