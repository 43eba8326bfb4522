/*
 * fuzz_inflate: libFuzzer target for the COMPRESS=DEFLATE input path of
 * the mail process (imapd/mail_compress.c under imapd/mail_io.c): the
 * bytes a client sends after COMPRESS, through a socketpair, inflated
 * into the session's small line buffer and split into lines.  The
 * first byte picks the way: odd, the rest goes in as it is (corrupt
 * deflate data must end the input cleanly); even, the harness deflates
 * the rest itself, with sync flushes at places the data chooses, and
 * the lines mio_getline() gives must be the input's lines (a line over
 * the buffer is refused, not cut).
 *
 *   make regress/fuzz/fuzz_inflate
 *   ./regress/fuzz/fuzz_inflate -max_total_time=60 -max_len=4096
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "imapd.h"

#define FUZZ_LINEBUF	256

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

volatile int	 mail_stopping;

/* The client's side: raw deflate, a sync flush after each '\n' run. */
static size_t
client_deflate(const uint8_t *in, size_t n, uint8_t *out, size_t outsz)
{
	z_stream	 z;
	size_t		 i, start = 0;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		abort();
	z.next_out = out;
	z.avail_out = outsz;
	for (i = 0; i <= n; i++) {
		if (i < n && in[i] != '\n')
			continue;
		z.next_in = (uint8_t *)(uintptr_t)(in + start);
		z.avail_in = i - start + (i < n);
		if (deflate(&z, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
			abort();
		start = i + 1;
	}
	if (z.avail_out == 0)
		abort();	/* outsz too small: the test would lie */
	n = outsz - z.avail_out;
	deflateEnd(&z);
	return n;
}

/* The lines in may give, in order, against what the session read. */
static void
check_lines(struct mail_io *m, const uint8_t *in, size_t n)
{
	const uint8_t	*p = in, *end = in + n, *lf;
	char		*line;
	size_t		 len, want;
	int		 r;

	while ((lf = memchr(p, '\n', end - p)) != NULL) {
		want = lf - p;
		if (want > 0 && p[want - 1] == '\r')
			want--;
		r = mio_getline(m, &line, &len);
		if (r == 0)
			abort();	/* a whole line was sent */
		if (r == 1 && (len != want || memcmp(line, p, len) != 0))
			abort();
		if (r == -1 && (size_t)(lf - p) < FUZZ_LINEBUF - 1)
			abort();
		p = lf + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_io	 m;
	uint8_t		*z;
	size_t		 zlen;
	char		*line;
	size_t		 len;
	int		 sv[2];

	if (size < 1 || size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	mio_init(&m, sv[0], FUZZ_LINEBUF, 0);
	if (mio_compress_prepare(&m) == -1 || mio_compress_start(&m) == -1)
		abort();
	if (data[0] & 1) {
		if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1))
			abort();
		shutdown(sv[1], SHUT_WR);
		while (mio_getline(&m, &line, &len) != 0)
			;
		if (m.eof != 1 && m.eof != 4)
			abort();
	} else {
		/* Each sync flush costs up to 10 bytes, a line 1 at least. */
		zlen = 12 * size + 64;
		if ((z = malloc(zlen)) == NULL)
			abort();
		zlen = client_deflate(data + 1, size - 1, z, zlen);
		if (write(sv[1], z, zlen) != (ssize_t)zlen)
			abort();
		shutdown(sv[1], SHUT_WR);
		free(z);
		check_lines(&m, data + 1, size - 1);
	}
	mio_free(&m);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
