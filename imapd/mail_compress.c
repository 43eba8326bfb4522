/*
 * COMPRESS=DEFLATE (RFC 4978) in the mail process: raw deflate (no
 * zlib header, RFC 1951) both ways under struct mail_io, after the
 * tagged OK.  The login process relays the compressed bytes without
 * looking at them, inside TLS when the client has TLS.
 *
 * Output: the session's stdio stream is replaced by a fopencookie(3)
 * stream whose writes feed deflate; mio_flush() ends each reply with a
 * sync flush (an empty stored block), so that the client can inflate
 * everything written so far.  Input: what read(2) returns goes into a
 * small buffer and is inflated into the line buffer of struct mail_io,
 * so the reader and the literal code see plain bytes as before.
 *
 * Memory (an idle session must stay small): inflate needs the 32 KB
 * window the RFC allows the client (the client's deflate decides how
 * far back it refers, not us).  Our own deflate may use any window, as
 * a smaller window only shortens back references: 2^12 bytes and
 * memLevel 4 cost 4 * 4 KB + 2^13 = 24 KB instead of the 256 KB of
 * zlib's defaults, and IMAP replies (FETCH headers, FLAGS, LIST lines)
 * repeat themselves mostly within a few kilobytes.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ZLIB_CONST
#include <zlib.h>

#include "log.h"
#include "imapd.h"

#define MIO_Z_WBITS	12	/* our deflate window: 4 KB */
#define MIO_Z_MEMLEVEL	4	/* 2^(4+7) hash heads */
#define MIO_Z_INBUF	4096	/* compressed input per read(2) */
#define MIO_Z_CHUNK	4096	/* compressed output per write(2) */
#define MIO_Z_STDIO	2048	/* plain output per deflate call */

struct mio_zlib {
	z_stream	 in;
	z_stream	 out;
	int		 fd;
	int		 pending;	/* deflated since the last sync flush */
	int		 full;		/* inflate filled the room: may have more */
	unsigned char	 ibuf[MIO_Z_INBUF];
	/* stdio's own would be BUFSIZ; deflate buffers anyway. */
	char		 obuf[MIO_Z_STDIO];
};

static int
z_write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/* Run deflate with flush and write what it makes: 0, or -1. */
static int
z_deflate(struct mio_zlib *z, int flush)
{
	unsigned char	 chunk[MIO_Z_CHUNK];
	int		 rc;

	do {
		z->out.next_out = chunk;
		z->out.avail_out = sizeof(chunk);
		rc = deflate(&z->out, flush);
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -1;
		if (z_write_all(z->fd, chunk, sizeof(chunk) -
		    z->out.avail_out) == -1)
			return -1;
	} while (z->out.avail_out == 0 || z->out.avail_in > 0);
	return 0;
}

/* The cookie stream's write: stdio hands its buffer over. */
static ssize_t
z_cookie_write(void *cookie, const char *buf, size_t len)
{
	struct mio_zlib	*z = cookie;

	if (len == 0)
		return 0;
	z->out.next_in = (const unsigned char *)buf;
	z->out.avail_in = len;
	if (z_deflate(z, Z_NO_FLUSH) == -1)
		return -1;
	z->pending = 1;
	return len;
}

static void
z_free(struct mio_zlib *z)
{
	if (z == NULL)
		return;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

int
mio_compress_prepare(struct mail_io *m)
{
	struct mio_zlib	*z;

	if (m->z != NULL)
		return -1;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return -1;
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	    -MIO_Z_WBITS, MIO_Z_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return -1;
	}
	if (inflateInit2(&z->in, -MAX_WBITS) != Z_OK) {
		deflateEnd(&z->out);
		free(z);
		return -1;
	}
	z->fd = m->fd;
	m->zprep = z;
	return 0;
}

/*
 * After the tagged OK went out as it is: from here on both ways are
 * compressed.  Bytes the client sent behind COMPRESS, before it could
 * have seen the OK, are compressed already: they become input.
 * -1 when the stream cannot be made or those bytes do not fit.
 */
int
mio_compress_start(struct mail_io *m)
{
	cookie_io_functions_t	 fn = { .write = z_cookie_write };
	struct mio_zlib		*z = m->zprep;
	size_t			 left = m->wpos - m->rpos;
	FILE			*out;

	if (z == NULL)
		return -1;
	m->zprep = NULL;
	mio_flush(m);
	if (left > sizeof(z->ibuf) ||
	    (out = fopencookie(z, "w", fn)) == NULL) {
		z_free(z);
		return -1;
	}
	memcpy(z->ibuf, m->buf + m->rpos, left);
	z->in.next_in = z->ibuf;
	z->in.avail_in = left;
	m->rpos = m->wpos = 0;
	setvbuf(out, z->obuf, _IOFBF, sizeof(z->obuf));
	fclose(m->out);
	m->out = out;
	m->z = z;
	return 0;
}

/* Compressed input not inflated yet, or inflated output held back. */
int
mio_compress_pending(const struct mail_io *m)
{
	return m->z != NULL && (m->z->in.avail_in > 0 || m->z->full);
}

/*
 * Inflate what is buffered into the room left in m->buf: 1 when that
 * gave bytes, 0 when more input is needed, -1 on corrupt input (or an
 * end of the stream, which RFC 4978 does not allow the client).
 */
int
mio_compress_inflate(struct mail_io *m)
{
	struct mio_zlib	*z = m->z;
	size_t		 room = m->size - m->wpos;
	int		 rc;

	/* A long match or stored block can outlast its input bytes. */
	if ((z->in.avail_in == 0 && !z->full) || room == 0)
		return 0;
	z->in.next_out = (unsigned char *)m->buf + m->wpos;
	z->in.avail_out = room;
	rc = inflate(&z->in, Z_SYNC_FLUSH);
	m->wpos += room - z->in.avail_out;
	z->full = z->in.avail_out == 0;
	if (rc != Z_OK && rc != Z_BUF_ERROR) {
		m->zerr = rc == Z_STREAM_END ? "end of the deflate stream" :
		    z->in.msg != NULL ? z->in.msg : "inflate failed";
		z->in.avail_in = 0;
		return -1;
	}
	return room > z->in.avail_out;
}

/* Read compressed bytes from the socket: read(2)'s result. */
ssize_t
mio_compress_read(struct mail_io *m)
{
	struct mio_zlib	*z = m->z;
	ssize_t		 n;

	if ((n = read(m->fd, z->ibuf, sizeof(z->ibuf))) > 0) {
		z->in.next_in = z->ibuf;
		z->in.avail_in = n;
	}
	return n;
}

/* After fflush: a sync flush when anything was deflated since the last. */
int
mio_compress_flush(struct mail_io *m)
{
	struct mio_zlib	*z = m->z;

	if (z == NULL || !z->pending)
		return 0;
	z->pending = 0;
	z->out.next_in = NULL;
	z->out.avail_in = 0;
	return z_deflate(z, Z_SYNC_FLUSH);
}

void
mio_compress_free(struct mail_io *m)
{
	z_free(m->z);
	z_free(m->zprep);
	m->z = m->zprep = NULL;
}
