/*
 * fuzz_dkim: libFuzzer target for lib/dkim_canon.c, the header splitter
 * and the relaxed canonicalizers that dkim_sign.c feeds the spool file
 * through.  The first two bytes choose where the message is cut into
 * three chunks; the result must not depend on the cuts, and the output
 * must have the relaxed form: CRLF line ends, no whitespace runs, none
 * at the end of a line, no empty lines at the end of the body.
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_dkim
 *   ./regress/fuzz/fuzz_dkim -max_total_time=60
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_canon.h"

#define INPUT_MAX	(2 * DKIM_HEADER_MAX)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct out {
	char	buf[2 * INPUT_MAX + 16];
	size_t	len;
};

static struct dkim_msg	 msg;
static char		 hdr[DKIM_HEADER_MAX];
static struct out	 whole, cut, hdrs;

static void
out_fn(void *arg, const void *data, size_t len)
{
	struct out	*o = arg;

	if (o->len + len > sizeof(o->buf))
		abort();
	memcpy(o->buf + o->len, data, len);
	o->len += len;
}

static void
check_relaxed(const char *p, size_t len, int body)
{
	size_t	 i;

	if (len == 0)
		return;
	if (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n')
		abort();
	if (body && len >= 4 && memcmp(p + len - 4, "\r\n\r\n", 4) == 0)
		abort();
	for (i = 0; i < len; i++) {
		if (p[i] == '\t')
			abort();
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
		if (p[i] == ' ' && i + 1 < len && p[i + 1] == ' ')
			abort();
		if (p[i] == ' ' && i + 2 < len && p[i + 1] == '\r' &&
		    p[i + 2] == '\n')
			abort();
	}
}

/* 0, or -1 when the header block is refused. */
static int
run(const uint8_t *data, size_t size, size_t c1, size_t c2,
    struct out *body)
{
	body->len = 0;
	dkim_msg_init(&msg, hdr, sizeof(hdr), out_fn, body);
	dkim_msg_update(&msg, data, c1);
	dkim_msg_update(&msg, data + c1, c2 - c1);
	dkim_msg_update(&msg, data + c2, size - c2);
	return dkim_msg_final(&msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_sink	 sink;
	struct dkim_field	*f;
	size_t			 c1, c2, i, start;
	int			 r1, r2;

	if (size < 2 || size > INPUT_MAX)
		return 0;
	c1 = data[0];
	c2 = c1 + data[1] * 16;
	data += 2;
	size -= 2;
	if (c1 > size)
		c1 = size;
	if (c2 > size)
		c2 = size;

	r1 = run(data, size, size, size, &whole);
	r2 = run(data, size, c1, c2, &cut);
	if (r1 != r2 || whole.len != cut.len ||
	    memcmp(whole.buf, cut.buf, whole.len) != 0)
		abort();
	check_relaxed(cut.buf, cut.len, 1);
	if (r2 == -1)
		return 0;

	for (i = 0; i < msg.nfields; i++) {
		f = &msg.fields[i];
		if (f->off + f->len > msg.hdrlen || f->namelen > f->len)
			abort();
		hdrs.len = 0;
		dkim_sink_init(&sink, out_fn, &hdrs);
		dkim_header_relaxed(&sink, hdr + f->off, f->len);
		dkim_sink_flush(&sink);
		check_relaxed(hdrs.buf, hdrs.len, 0);
		/* One line: folding is gone. */
		start = hdrs.len - 2;
		if (memchr(hdrs.buf, '\n', start) != NULL)
			abort();
		(void)dkim_field_is(&msg, f, "from");
	}
	return 0;
}
