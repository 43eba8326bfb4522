/*
 * The mail process' I/O on its socketpair to the login process: one
 * session, so plain blocking reads with poll(2) for the autologout
 * timer, a bounded input buffer (a line longer than it is refused, not
 * grown into), and stdio for output, flushed once per reply so that a
 * FETCH of many messages goes out in large writes.  COMPRESS=DEFLATE
 * (mail_compress.c) slots in under both: input is inflated into the
 * same buffer, output deflated under the same stdio stream.
 */

#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "imapd.h"

#define MIO_OUTBUF	(64 * 1024)

/*
 * The session's two buffers are pages of their own: from the heap,
 * inherited from the parent, they were cut from its free chunks, and
 * every chunk header written was a page copied.  Only the pages the
 * session's lines and replies touch cost it memory.
 */
static char *
mio_pages(size_t n)
{
	void	*p;

	if ((p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		fatal("%s", __func__);
	return p;
}

void
mio_init(struct mail_io *m, int fd, size_t bufsz, int timeout)
{
	int	 ofd;

	memset(m, 0, sizeof(*m));
	m->fd = fd;
	m->size = bufsz;
	m->timeout = timeout;
	m->buf = mio_pages(bufsz);
	if ((ofd = dup(fd)) == -1 || (m->out = fdopen(ofd, "w")) == NULL)
		fatal("%s", __func__);
	/*
	 * glibc ignores the size when given no buffer and takes the
	 * socket's st_blksize, 4 KB: a FETCH went out 4 KB a write.
	 */
	m->obuf = mio_pages(MIO_OUTBUF);
	setvbuf(m->out, m->obuf, _IOFBF, MIO_OUTBUF);
}

/* Everything mio_init and COMPRESS took, output not flushed. */
void
mio_free(struct mail_io *m)
{
	FILE	*out = m->out;

	m->out = NULL;
	if (out != NULL)
		fclose(out);
	mio_compress_free(m);
	free(m->buf);
	m->buf = NULL;
}

/* More input: 1, or 0 with m->eof set. */
static int
mio_fill(struct mail_io *m)
{
	struct pollfd	 pfd = { .fd = m->fd, .events = POLLIN };
	ssize_t		 n;
	int		 r;

	if (m->rpos > 0) {
		memmove(m->buf, m->buf + m->rpos, m->wpos - m->rpos);
		m->wpos -= m->rpos;
		m->rpos = 0;
	}
	if (m->wpos == m->size)
		return 1;	/* full: the caller decides */
	mio_flush(m);
	for (;;) {
		if (m->z != NULL && (r = mio_compress_inflate(m)) != 0) {
			if (r == -1)
				m->eof = 4;
			return r == 1;
		}
		if (mail_stopping) {
			m->eof = 3;
			return 0;
		}
		r = poll(&pfd, 1, m->timeout > 0 ? m->timeout : -1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0) {
			m->eof = 2;
			return 0;
		}
		if (r == -1) {
			m->eof = 1;
			return 0;
		}
		if (m->z != NULL)
			n = mio_compress_read(m);
		else
			n = read(m->fd, m->buf + m->wpos, m->size - m->wpos);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			m->eof = 1;
			return 0;
		}
		if (m->z != NULL)
			continue;
		m->wpos += n;
		return 1;
	}
}

int
mio_getline(struct mail_io *m, char **line, size_t *len)
{
	char	*p, *lf;
	size_t	 scanned = 0;
	int	 toolong = 0;

	for (;;) {
		p = m->buf + m->rpos;
		if ((lf = memchr(p + scanned, '\n', m->wpos - m->rpos -
		    scanned)) != NULL) {
			*len = lf - p;
			m->rpos += *len + 1;
			if (toolong)
				return -1;
			if (*len > 0 && p[*len - 1] == '\r')
				(*len)--;
			p[*len] = '\0';
			*line = p;
			return 1;
		}
		scanned = m->wpos - m->rpos;
		if (m->rpos == 0 && m->wpos == m->size) {
			/* Too long: drop what we have, up to the LF. */
			if (!toolong) {
				m->headlen = m->wpos < sizeof(m->head) ?
				    m->wpos : sizeof(m->head);
				memcpy(m->head, m->buf, m->headlen);
			}
			toolong = 1;
			m->rpos = m->wpos = 0;
			scanned = 0;
		}
		if (!mio_fill(m))
			return 0;
		if (m->rpos == 0 && scanned > m->wpos)
			scanned = 0;
	}
}

int
mio_read(struct mail_io *m, char *dst, size_t n)
{
	size_t	 k;

	while (n > 0) {
		if (m->wpos == m->rpos && !mio_fill(m))
			return -1;
		k = m->wpos - m->rpos;
		if (k > n)
			k = n;
		if (dst != NULL) {
			memcpy(dst, m->buf + m->rpos, k);
			dst += k;
		}
		m->rpos += k;
		n -= k;
	}
	return 0;
}

int
mio_flush(struct mail_io *m)
{
	if (fflush(m->out) == EOF || mio_compress_flush(m) == -1) {
		/* The login process is gone: nobody to answer. */
		exit(0);
	}
	return 0;
}

int
mio_wait_also(struct mail_io *m, int fd, int msec)
{
	struct pollfd	 pfd[2] = {
		{ .fd = m->fd, .events = POLLIN },
		{ .fd = fd, .events = POLLIN }
	};
	int		 r;

	if (m->wpos > m->rpos || mio_compress_pending(m))
		return 1;
	mio_flush(m);
	if (mail_stopping)
		return -1;
	r = poll(pfd, fd == -1 ? 1 : 2, msec);
	if (r == -1)
		return errno == EINTR && !mail_stopping ? 0 : -1;
	if (r == 0)
		return 0;
	return pfd[0].revents != 0 ? 1 : 2;
}
