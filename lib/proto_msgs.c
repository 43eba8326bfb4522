/*
 * proto_msgs: the pack and unpack functions of every imsg type, its name
 * for logs and whether it may carry an fd, all expanded from the one
 * table in proto_msgs.def.
 *
 * Why an X-macro table and not a generator: the table is C preprocessor
 * input that needs no build step of its own and no tool besides cc, and
 * it is regular enough (one entry to a line) for the Python test client
 * to read directly; a generator would be one more program to write, run
 * and keep in step.
 *
 * Unpacking is in place: a string's bytes move two bytes down over its
 * length and gain a NUL, so a handler gets const char * into the imsg
 * without a copy.  A list is checked whole by the unpack (every element,
 * bounds and trailing data) and read again, element by element, by
 * rec_<name>_next(), which knows the strings are already terminated.
 */

#include <stdint.h>
#include <string.h>

#include "imsg.h"
#include "proto.h"

static uint64_t
le_read(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | p[n];
	return v;
}

/* Integers are the same before and after unpacking: read in place. */
static int
get_int(struct imsg *imsg, size_t n, uint64_t *v)
{
	if (n > imsg->len - imsg->rpos)
		return -1;
	*v = le_read(imsg->data + imsg->rpos, n);
	imsg->rpos += n;
	return 0;
}

static int
get_u8(struct imsg *imsg, uint8_t *v)
{
	uint64_t x;

	if (get_int(imsg, 1, &x) == -1)
		return -1;
	*v = x;
	return 0;
}

static int
get_u32(struct imsg *imsg, uint32_t *v)
{
	uint64_t x;

	if (get_int(imsg, 4, &x) == -1)
		return -1;
	*v = x;
	return 0;
}

static int
get_u64(struct imsg *imsg, uint64_t *v)
{
	return get_int(imsg, 8, v);
}

/*
 * A string: u16 length, bytes.  Not yet decoded: check, move down over
 * the length and terminate.  Decoded (a list read again): it is there.
 */
static int
get_str(struct imsg *imsg, const char **s, size_t max, int decoded)
{
	uint8_t		*p;
	uint64_t	 len;

	if (decoded) {
		*s = (const char *)imsg->data + imsg->rpos;
		imsg->rpos += strlen(*s) + 2;
		return 0;
	}
	if (get_int(imsg, 2, &len) == -1)
		return -1;
	if (len > max || len > imsg->len - imsg->rpos)
		return -1;
	p = imsg->data + imsg->rpos;
	if (memchr(p, '\0', len) != NULL)
		return -1;
	memmove(p - 2, p, len);
	(p - 2)[len] = '\0';
	*s = (const char *)p - 2;
	imsg->rpos += len;
	return 0;
}

static int
get_blob(struct imsg *imsg, const void **b, size_t *blen, size_t max)
{
	uint64_t len;

	if (get_int(imsg, 4, &len) == -1)
		return -1;
	if (len > max || len > imsg->len - imsg->rpos)
		return -1;
	*b = imsg->data + imsg->rpos;
	*blen = len;
	imsg->rpos += len;
	return 0;
}

/* The count of a list; its elements are checked by the caller. */
static int
get_list(struct imsg *imsg, struct imsg_list *l, size_t max)
{
	if (get_u32(imsg, &l->n) == -1 || l->n > max)
		return -1;
	l->left = l->n;
	l->off = imsg->rpos;
	return 0;
}

static void
put_str(struct ibuf *b, const char *s, size_t max)
{
	if (s == NULL)
		s = "";
	if (strlen(s) > max)
		b->error = 1;
	else
		ibuf_add_str(b, s);
}

static void
put_blob(struct ibuf *b, const void *p, size_t len, size_t max)
{
	if (len > max)
		b->error = 1;
	else
		ibuf_add_blob(b, p, len);
}

/* Unpacking the fields of a record or a message. */
#define REC(lo)								\
static int								\
rec_##lo##_get(struct imsg *imsg, struct rec_##lo *m, int decoded)	\
{									\
	int rv = 0;
#define MSG(up, num, lo, fd)						\
static int								\
msg_##lo##_get(struct imsg *imsg, struct msg_##lo *m)			\
{									\
	int rv = 0, decoded = 0;
#define F_U8(f)		if (rv == 0) rv = get_u8(imsg, &m->f);
#define F_U32(f)	if (rv == 0) rv = get_u32(imsg, &m->f);
#define F_U64(f)	if (rv == 0) rv = get_u64(imsg, &m->f);
#define F_STR(f, max)	if (rv == 0) rv = get_str(imsg, &m->f, max, decoded);
#define F_BLOB(f, max)							\
	if (rv == 0) rv = get_blob(imsg, &m->f, &m->f##_len, max);
#define F_LIST(f, rec, max)						\
	if (rv == 0) rv = get_list(imsg, &m->f, max);			\
	if (rv == 0) {							\
		struct rec_##rec e;					\
		uint32_t i;						\
									\
		for (i = 0; i < m->f.n && rv == 0; i++)			\
			rv = rec_##rec##_get(imsg, &e, 0);		\
	}
#define F_END								\
	(void)m;							\
	(void)decoded;							\
	return rv;							\
}
#include "proto_msgs.def"

/* Packing: part 0 is up to the list (if any), part 1 after it. */
#define REC(lo)								\
void									\
rec_##lo##_pack(struct ibuf *b, const struct rec_##lo *m)		\
{									\
	int part = 0, p_ = 0;
#define MSG(up, num, lo, fd)						\
static void								\
msg_##lo##_put(struct ibuf *b, const struct msg_##lo *m, int part)	\
{									\
	int p_ = 0;
#define F_U8(f)		if (p_ == part) ibuf_add_u8(b, m->f);
#define F_U32(f)	if (p_ == part) ibuf_add_u32(b, m->f);
#define F_U64(f)	if (p_ == part) ibuf_add_u64(b, m->f);
#define F_STR(f, max)	if (p_ == part) put_str(b, m->f, max);
#define F_BLOB(f, max)	if (p_ == part) put_blob(b, m->f, m->f##_len, max);
#define F_LIST(f, rec, max)						\
	if (p_ == part) {						\
		if (m->f.n > max)					\
			b->error = 1;					\
		ibuf_add_u32(b, m->f.n);				\
	}								\
	p_++;
#define F_END								\
	(void)m;							\
	(void)b;							\
	(void)p_;							\
	(void)part;							\
}
#include "proto_msgs.def"

#define MSG(up, num, lo, fd)						\
struct ibuf *								\
msg_##lo##_pack(const struct msg_##lo *m, int fd_)			\
{									\
	struct ibuf *b;							\
									\
	if ((b = imsg_create(IMSG_##up, 0, fd_)) == NULL)		\
		return NULL;						\
	msg_##lo##_put(b, m, 0);					\
	return b;							\
}									\
									\
void									\
msg_##lo##_pack_tail(struct ibuf *b, const struct msg_##lo *m)		\
{									\
	msg_##lo##_put(b, m, 1);					\
}
#define REC(lo)								\
int									\
rec_##lo##_next(struct imsg *imsg, struct imsg_list *l,		\
    struct rec_##lo *e)							\
{									\
	size_t save = imsg->rpos;					\
									\
	if (l->left == 0)						\
		return -1;						\
	imsg->rpos = l->off;						\
	(void)rec_##lo##_get(imsg, e, 1);				\
	l->off = imsg->rpos;						\
	l->left--;							\
	imsg->rpos = save;						\
	return 0;							\
}
#include "proto_msgs.def"

int
imsg_unpack(struct imsg *imsg, union imsg_msg *u)
{
	int	 rv;

	imsg->rpos = 0;
	switch (imsg->hdr.type) {
#define MSG(up, num, lo, fd)						\
	case IMSG_##up:							\
		rv = msg_##lo##_get(imsg, &u->lo);			\
		break;
#include "proto_msgs.def"
	default:
		return -1;
	}
	if (rv == 0 && imsg_get_end(imsg) == -1)
		rv = -1;
	return rv;
}

const char *
imsg_type_name(uint32_t type)
{
	switch (type) {
#define MSG(up, num, lo, fd)	case IMSG_##up: return #up;
#include "proto_msgs.def"
	default:
		return "unknown";
	}
}

int
imsg_type_known(uint32_t type)
{
	switch (type) {
#define MSG(up, num, lo, fd)	case IMSG_##up: return 1;
#include "proto_msgs.def"
	default:
		return 0;
	}
}

int
imsg_type_fd(uint32_t type)
{
	switch (type) {
#define MSG(up, num, lo, fd)	case IMSG_##up: return IMSG_##fd;
#include "proto_msgs.def"
	default:
		return 0;
	}
}
