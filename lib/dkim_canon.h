/*
 * DKIM canonicalization (RFC 6376 section 3.4) of a message read as a
 * stream: the header block is kept in a bounded buffer given by the
 * caller and split into fields, the body is canonicalized on the fly
 * into a sink (a hash in practice), so memory does not grow with the
 * message.  Signing uses "relaxed"; a verifier also needs "simple".  No
 * cryptography here: dkim_sign.c and dkim_verify.c add that.  Line ends
 * may be CRLF or bare LF.
 */

#ifndef TSAMBA_DKIM_CANON_H
#define TSAMBA_DKIM_CANON_H

#include <stddef.h>

#define DKIM_HEADER_MAX		65536	/* the header block we sign */
#define DKIM_FIELDS_MAX		1024	/* header fields in it */

/* Where canonical bytes go; buffered so the callback sees chunks. */
typedef void	(*dkim_out)(void *arg, const void *, size_t);

struct dkim_sink {
	dkim_out	 fn;
	void		*arg;
	size_t		 len;
	unsigned char	 buf[2048];
};

void	dkim_sink_init(struct dkim_sink *, dkim_out, void *arg);
void	dkim_sink_flush(struct dkim_sink *);

#define DKIM_CANON_RELAXED	0
#define DKIM_CANON_SIMPLE	1

/* The streaming body canonicalizer. */
struct dkim_body {
	struct dkim_sink sink;
	int		 simple;	/* DKIM_CANON_SIMPLE */
	size_t		 blank;		/* line ends not yet written */
	int		 ws;		/* whitespace seen, not yet written */
	int		 cr;		/* a CR that may start a CRLF */
	int		 content;	/* anything written at all */
};


/* One header field in the header buffer, continuation lines included. */
struct dkim_field {
	size_t		 off;
	size_t		 len;
	size_t		 namelen;	/* 0: no "name:", never signed */
};

/* A message: its header block, then its body into a dkim_body. */
struct dkim_msg {
	char		*hdr;		/* caller's buffer */
	size_t		 hdrmax;
	size_t		 hdrlen;
	size_t		 linelen;	/* bytes of the current header line */
	int		 in_body;
	int		 overflow;	/* header block larger than hdrmax */
	struct dkim_body body;
	size_t		 nfields;
	struct dkim_field fields[DKIM_FIELDS_MAX];
};

void	dkim_body_init(struct dkim_body *, int canon, dkim_out, void *arg);
void	dkim_body_update(struct dkim_body *, const void *, size_t);
/* Writes what is pending (the last line end) and flushes the sink. */
void	dkim_body_final(struct dkim_body *);

void	dkim_msg_init(struct dkim_msg *, char *hdrbuf, size_t hdrmax,
	    dkim_out body_out, void *arg);
void	dkim_msg_update(struct dkim_msg *, const void *, size_t);
/*
 * Only the header part of dkim_msg_update: the bytes used, up to and
 * including the empty line that ends the header block (in_body is then
 * set); the rest is body, for the caller.
 */
size_t	dkim_msg_header(struct dkim_msg *, const void *, size_t);
/* Splits the header block into fields: 0, or -1 if too large. */
int	dkim_msg_fields(struct dkim_msg *);
/* Ends the body and splits the header block: 0, or -1 if too large. */
int	dkim_msg_final(struct dkim_msg *);

/* 1 if field's name is name, ignoring case. */
int	dkim_field_is(const struct dkim_msg *, const struct dkim_field *,
	    const char *name);
/* "name:value\r\n" canonicalized (relaxed) into the sink. */
void	dkim_header_relaxed(struct dkim_sink *, const char *field,
	    size_t len);
/* The field unchanged (simple) but for bare LF written as CRLF. */
void	dkim_header_simple(struct dkim_sink *, const char *field,
	    size_t len);

#endif
