/*
 * imsg: framed messages between tsamba processes over UNIX sockets.
 *
 * Every message is a 16-byte header followed by at most IMSG_MAXPAYLOAD
 * bytes of payload.  The header holds, in host byte order (the peers are
 * on the same host): type, length (header included; bit 31 set when a file
 * descriptor travels with the message as SCM_RIGHTS), peer id and pid.
 *
 * Payloads are never raw structs: they are built field by field with the
 * ibuf_add_*() functions and read back with the imsg_get_*() getters,
 * which fail on short data; imsg_get_end() fails on trailing data.
 * Integers are little-endian fixed width; strings are a u16 length and the
 * bytes without NUL (a NUL inside is rejected by the getter); blobs are a
 * u32 length and the bytes.
 */

#ifndef TSAMBA_IMSG_H
#define TSAMBA_IMSG_H

#include <sys/types.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event.h>

#define IMSG_HDRSIZE		16
#define IMSG_MAXPAYLOAD		16384
#define IMSG_HASFD		0x80000000U
#define IMSG_LENMASK		0x0000ffffU

struct imsg_hdr {
	uint32_t	type;
	uint32_t	len;		/* with IMSG_HASFD */
	uint32_t	peerid;
	uint32_t	pid;
};

struct ibuf {
	TAILQ_ENTRY(ibuf)	 entry;
	uint8_t			*buf;
	size_t			 size;	/* allocated */
	size_t			 wpos;	/* bytes filled */
	size_t			 rpos;	/* bytes already sent */
	int			 fd;	/* to pass, or -1 */
	int			 error;	/* an add overflowed */
};

struct imsgbuf {
	int			 fd;
	pid_t			 pid;
	TAILQ_HEAD(, ibuf)	 wq;
	size_t			 wqlen;		/* messages queued */
	uint8_t			 rbuf[IMSG_HDRSIZE + IMSG_MAXPAYLOAD];
	size_t			 rlen;
	int			 rfds[16];	/* fds received, in order */
	int			 nrfds;
};

struct imsg {
	struct imsg_hdr	 hdr;
	int		 fd;		/* received fd, or -1; caller owns it */
	uint8_t		*data;		/* payload, owned by the imsg */
	size_t		 len;
	size_t		 rpos;		/* getter position */
};

void		 imsgbuf_init(struct imsgbuf *, int);
/* Frees the queues and closes pending fds. */
void		 imsgbuf_clear(struct imsgbuf *);
/* read(2)/recvmsg: -1 error (errno), 0 EOF, else bytes read. */
ssize_t		 imsgbuf_read(struct imsgbuf *);
/* Write what the socket takes: -1 error, 0 otherwise. */
int		 imsgbuf_write(struct imsgbuf *);
/* Blocking write of everything queued (start-up, tools): -1 on error. */
int		 imsgbuf_flush(struct imsgbuf *);
/*
 * The same, giving up at deadline (CLOCK_MONOTONIC; NULL: never) with
 * ETIMEDOUT: a process going down writes out the answers it owes.
 */
int		 imsgbuf_flush_until(struct imsgbuf *,
		    const struct timespec *deadline);
/* 1 and *imsg filled, 0 need more data, -1 malformed (caller stops). */
int		 imsg_get(struct imsgbuf *, struct imsg *);
void		 imsg_free(struct imsg *);

/* Build a message; NULL when out of memory. */
struct ibuf	*imsg_create(uint32_t type, uint32_t peerid, int fd);
int		 ibuf_add_u8(struct ibuf *, uint8_t);
int		 ibuf_add_u16(struct ibuf *, uint16_t);
int		 ibuf_add_u32(struct ibuf *, uint32_t);
int		 ibuf_add_u64(struct ibuf *, uint64_t);
int		 ibuf_add_str(struct ibuf *, const char *);
int		 ibuf_add_blob(struct ibuf *, const void *, size_t);
void		 ibuf_free(struct ibuf *);
/* Queue a built message (and free it on error): -1 if it overflowed. */
int		 imsg_close(struct imsgbuf *, struct ibuf *);
/* One call for messages with no payload fields. */
int		 imsg_compose(struct imsgbuf *, uint32_t type, uint32_t peerid,
		    int fd);

int		 imsg_get_u8(struct imsg *, uint8_t *);
int		 imsg_get_u16(struct imsg *, uint16_t *);
int		 imsg_get_u32(struct imsg *, uint32_t *);
int		 imsg_get_u64(struct imsg *, uint64_t *);
/* Copies into dst (NUL-terminated); -1 if longer than dstsz - 1. */
int		 imsg_get_str(struct imsg *, char *dst, size_t dstsz);
/* Points into the imsg (valid until imsg_free). */
int		 imsg_get_blob(struct imsg *, const void **, size_t *);
/* -1 if payload bytes are left unread. */
int		 imsg_get_end(struct imsg *);

/*
 * An imsgbuf on the libevent loop: reads and dispatches, and writes when
 * there is something queued.  The handler is called once per message;
 * on EOF or a malformed message it is called with imsg == NULL.
 */
struct imsgev {
	struct imsgbuf	 ibuf;
	struct event	 ev;
	short		 events;
	void		(*handler)(struct imsgev *, struct imsg *, void *);
	void		*arg;
	/* Called once the write queue falls to lowat after being above. */
	void		(*drained)(struct imsgev *, void *);
	size_t		 lowat;
	int		 above;
};

void		 imsgev_init(struct imsgev *, int fd,
		    void (*)(struct imsgev *, struct imsg *, void *), void *);
void		 imsgev_clear(struct imsgev *);	/* del event, close fd */
/* Call after queueing messages: arms EV_WRITE if needed. */
void		 imsgev_update(struct imsgev *);
/* imsg_close() then imsgev_update(). */
int		 imsgev_send(struct imsgev *, struct ibuf *);
/*
 * Flow control: after imsgev_pause() the handler gets no more messages
 * (not even those already read, nor the end) and the socket is no longer
 * read, so a peer that keeps sending fills the socket buffer and blocks;
 * queued messages are still written.  imsgev_resume() delivers what is
 * buffered from the event loop, not from inside the call.  Both may be
 * called from the handler.
 */
void		 imsgev_pause(struct imsgev *);
void		 imsgev_resume(struct imsgev *);

#endif
