/*
 * fuzz_mime: libFuzzer target for imapd/mime.c, mime_write.c and
 * mime_decode.c.  The input is a message: its structure is parsed
 * with small limits, every part's ranges must lie inside the message
 * and inside its parent, BODYSTRUCTURE, BODY, ENVELOPE and every
 * section are written, and the decoders run over the input.  The
 * header-only read (mime_parse_header_fd(), from a memfd, in chunks
 * of a size the input picks) must give the same ENVELOPE, and
 * mime_vsize() the same size, as the whole parse.
 *
 *   make regress/fuzz/fuzz_mime
 *   ./regress/fuzz/fuzz_mime -max_total_time=60 -max_len=4096
 */

#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../imapd/mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_range(const struct mime_msg *m, const struct mime_range *r)
{
	size_t	 i, lf = 0, bare = 0;

	if (r->off > m->len || r->len > m->len - r->off)
		abort();
	for (i = r->off; i < r->off + r->len; i++)
		if (m->buf[i] == '\n') {
			lf++;
			if (i == r->off || m->buf[i - 1] != '\r')
				bare++;
		}
	if (r->lines != lf || r->vsize != r->len + bare)
		abort();
}

static void
walk(struct mime_msg *m, struct mime_part *p, uint32_t *sec, int depth,
    int *count)
{
	static const enum mime_text texts[] = { MT_NONE, MT_HEADER,
	    MT_HEADER_FIELDS, MT_HEADER_FIELDS_NOT, MT_TEXT, MT_MIME };
	static const char *const fields[] = { "From", "content-type" };
	struct mime_part	*c;
	char			*out;
	size_t			 len, t;
	uint32_t		 i = 1;

	(*count)++;
	check_range(m, &p->header);
	check_range(m, &p->body);
	if (p->header.off + p->header.len > p->body.off)
		abort();
	if (p->parent != NULL && (p->header.off < p->parent->body.off ||
	    p->body.off + p->body.len > p->parent->body.off +
	    p->parent->body.len))
		abort();
	if (depth > 0 && depth <= 40) {
		for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
			(void)mime_section_contents(m, sec, depth, texts[t],
			    fields, 2, &out, &len);
			free(out);
		}
	}
	if (depth >= 40)
		return;
	TAILQ_FOREACH(c, &p->children, entry) {
		sec[depth] = i++;
		walk(m, c, sec, depth + 1, count);
	}
}

static char *
envelope_of(const struct mime_msg *m, size_t *len)
{
	char	*out = NULL;
	FILE	*f;

	if ((f = open_memstream(&out, len)) == NULL)
		abort();
	mime_write_envelope(f, m, m->root);
	fclose(f);
	return out;
}

/* The header-only read against the whole parse m. */
static void
check_header_only(const uint8_t *data, size_t size, struct mime_msg *m)
{
	struct mime_msg	*h;
	char		*a, *b;
	size_t		 alen, blen;
	int		 fd;

	if ((fd = memfd_create("fuzz_mime", 0)) == -1)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	h = mime_parse_header_fd(fd, 1 + (size > 0 ? data[0] % 64 : 0),
	    size + 1);
	close(fd);
	if (h == NULL || h->root->header.len != m->root->header.len ||
	    h->readlen > size)
		abort();
	if (h->readlen == size && mime_vsize(h->buf, size) !=
	    m->root->header.vsize + m->root->body.vsize)
		abort();
	a = envelope_of(m, &alen);
	b = envelope_of(h, &blen);
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
	free(a);
	free(b);
	mime_free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits	 lim = { 8, 50 };
	struct mime_msg		*m;
	uint32_t		 sec[48];
	char			*out, *dec;
	size_t			 len, n;
	FILE			*f;
	int			 count = 0;

	if ((m = mime_parse((const char *)data, size, &lim)) == NULL)
		return 0;
	walk(m, m->root, sec, 0, &count);
	check_header_only(data, size, m);
	if (count != m->nparts || m->nparts > lim.parts_max)
		abort();
	if ((f = open_memstream(&out, &len)) != NULL) {
		mime_write_bodystructure(f, m, m->root, 1);
		mime_write_bodystructure(f, m, m->root, 0);
		mime_write_envelope(f, m, m->root);
		fclose(f);
		free(out);
	}
	mime_free(m);

	if ((out = malloc(size + 1)) != NULL) {
		if (mime_decode_qp((const char *)data, size, out, &n,
		    0) == -1 || n > size)
			abort();
		if (mime_decode_qp((const char *)data, size, out, &n,
		    1) == -1 || n > size)
			abort();
		(void)mime_decode_base64((const char *)data, size, out, &n);
		if (n > size)
			abort();
		free(out);
	}
	if ((dec = mime_decode_header((const char *)data, size)) != NULL)
		free(dec);
	/* Any tail of the input, cut at a character, is found in it. */
	for (n = size / 2; n < size && (data[n] & 0xc0) == 0x80; n++)
		;
	if (mime_utf8_contains((const char *)data, size,
	    (const char *)data + n, size - n) != 1)
		abort();
	return 0;
}
