/*
 * libFuzzer target for the input side of lib/io.c: arbitrary bytes go
 * through a socketpair in arbitrary chunks into an io, and what
 * io_getline() (or io_data()/io_drain()) hands out is checked against a
 * simple reference splitter.  Any difference aborts.
 *
 * Input: byte 0 picks the line limit, byte 1 the chunk size and the
 * mode (lines or raw), the rest is the stream.
 *
 * Build (from the top directory):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Ilib -o regress/fuzz/fuzz_lines regress/fuzz/fuzz_lines.c \
 *       lib/io.c lib/log.c -ltls -levent
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fuzz {
	struct io	*io;
	const uint8_t	*in;		/* the stream */
	size_t		 inlen;
	size_t		 maxline;
	int		 raw;
	size_t		 drainstep;
	size_t		 refpos;	/* reference splitter position */
	int		 refdiscard;
	size_t		 rawpos;	/* bytes drained in raw mode */
	int		 done;
};

/*
 * The reference: the next line that io_getline() must return given that
 * the whole stream up to 'avail' has arrived, or 0 if none is complete.
 */
static int
ref_next(struct fuzz *f, size_t avail, size_t *off, size_t *len,
    int *toolong, int *bare)
{
	const uint8_t	*p, *lf;
	size_t		 n, consume;

	for (;;) {
		p = f->in + f->refpos;
		n = avail - f->refpos;
		lf = memchr(p, '\n', n);
		if (f->refdiscard) {
			if (lf == NULL) {
				f->refpos = avail;
				return (0);
			}
			f->refpos += lf - p + 1;
			f->refdiscard = 0;
			continue;
		}
		break;
	}
	*bare = 0;
	if (lf != NULL) {
		*len = lf - p;
		consume = *len + 1;
		if (*len > 0 && p[*len - 1] == '\r')
			(*len)--;
		else
			*bare = 1;
	} else if (n >= f->maxline + 2) {
		*len = n;
		consume = n;
		f->refdiscard = 1;
	} else
		return (0);
	*toolong = 0;
	if (*len > f->maxline) {
		*len = f->maxline;
		*toolong = 1;
	}
	if (memchr(p, '\r', *len) != NULL)
		*bare = 1;
	*off = f->refpos;
	f->refpos += consume;
	return (1);
}

static size_t	 fed;		/* bytes of the stream written so far */
static int	 iofd;

/* What io has read: written minus what still sits in the socket. */
static size_t
received(void)
{
	int	 q = 0;

	if (ioctl(iofd, FIONREAD, &q) == -1 || q < 0 || (size_t)q > fed)
		abort();
	return (fed - q);
}

static void
check_lines(struct fuzz *f)
{
	char	*s;
	size_t	 len, roff, rlen;
	int	 toolong, bare, rtoolong, rbare;
	size_t	 avail = received();

	while ((s = io_getline(f->io, &len, &toolong, &bare)) != NULL) {
		if (!ref_next(f, avail, &roff, &rlen, &rtoolong, &rbare))
			abort();
		if (len != rlen || toolong != rtoolong || s[len] != '\0')
			abort();
		if (memcmp(s, f->in + roff, len) != 0)
			abort();
		if (!toolong && bare != rbare)
			abort();
		if (len > f->maxline)
			abort();
	}
	/* nothing the reference can cut may be left behind */
	if (ref_next(f, avail, &roff, &rlen, &rtoolong, &rbare))
		abort();
}

static void
check_raw(struct fuzz *f)
{
	size_t	 n;

	n = io_datalen(f->io);
	if (n > f->drainstep && n < 32 * 1024)
		n = f->drainstep;
	if (f->rawpos + n > fed)
		abort();
	if (memcmp(io_data(f->io), f->in + f->rawpos, n) != 0)
		abort();
	f->rawpos += n;
	io_drain(f->io, n);
}

static void
fuzz_cb(struct io *io, int event, void *arg)
{
	struct fuzz	*f = arg;

	switch (event) {
	case IO_DATAIN:
		if (f->raw)
			check_raw(f);
		else
			check_lines(f);
		break;
	case IO_DISCONNECTED:
	case IO_ERROR:
		f->done = 1;
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 init;
	struct fuzz	 f;
	size_t		 chunk, n;
	ssize_t		 w;
	int		 sv[2], spins = 0;

	if (!init) {
		signal(SIGPIPE, SIG_IGN);
		event_init();
		init = 1;
	}
	if (size < 2)
		return (0);
	memset(&f, 0, sizeof(f));
	f.maxline = (data[0] & 0x80) ? 1000 : (size_t)(data[0] & 0x3f) + 1;
	chunk = (data[1] >> 1) + 1;
	f.raw = data[1] & 1;
	f.drainstep = chunk * 3;
	f.in = data + 2;
	f.inlen = size - 2;
	fed = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	iofd = sv[0];
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	if ((f.io = io_new(sv[0], fuzz_cb, &f)) == NULL)
		abort();
	io_set_maxline(f.io, f.maxline);
	while (fed < f.inlen) {
		n = f.inlen - fed < chunk ? f.inlen - fed : chunk;
		if ((w = write(sv[1], f.in + fed, n)) > 0)
			fed += w;
		event_loop(EVLOOP_NONBLOCK);
	}
	shutdown(sv[1], SHUT_WR);
	while (!f.done && spins++ < 100000)
		event_loop(EVLOOP_ONCE);
	if (!f.done)
		abort();
	if (f.raw) {
		/* raw mode loses nothing */
		while (io_datalen(f.io) > 0)
			check_raw(&f);
		if (f.rawpos != f.inlen)
			abort();
	}
	io_free(f.io);
	close(sv[1]);
	return (0);
}
