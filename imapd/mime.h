/*
 * mime.h: the MIME structure of one message (mime.c), what FETCH
 * writes from it (mime_write.c: BODYSTRUCTURE, BODY, ENVELOPE, section
 * contents) and the decoders SEARCH needs (mime_decode.c).  A message
 * is a buffer as stored in Maildir, lines ending in LF or CRLF; sizes
 * and offsets given to IMAP count every line end as CRLF, as the
 * protocol sees the message.
 */

#ifndef TSAMBA_MIME_H
#define TSAMBA_MIME_H

#include <sys/queue.h>

#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MIME_DEPTH_MAX		32	/* default nesting */
#define MIME_PARTS_MAX		2000	/* default parts in one message */

struct mime_limits {
	int		 depth_max;
	int		 parts_max;
};

struct mime_param {
	char		*name;		/* as written */
	char		*value;
};

/* A range of the stored message and its size as IMAP counts it. */
struct mime_range {
	size_t		 off, len;	/* in the buffer */
	size_t		 vsize;		/* with every LF as CRLF */
	size_t		 lines;
};

struct mime_part {
	struct mime_part	*parent;
	TAILQ_ENTRY(mime_part)	 entry;
	TAILQ_HEAD(, mime_part)	 children;	/* multipart parts, or the
						   one message of rfc822 */
	int			 nchildren;
	int			 is_multipart;
	int			 is_message;	/* message/rfc822 */
	int			 is_mime;	/* its Content-* fields count */
	struct mime_range	 header;	/* with the blank line */
	struct mime_range	 body;
	char			*type;		/* NULL: the default */
	char			*subtype;
	struct mime_param	*params;
	int			 nparams;
	char			*disposition;
	struct mime_param	*disp_params;
	int			 ndisp_params;
};

struct mime_msg {
	const char		*buf;
	size_t			 len;
	char			*owned;		/* read by mime_parse_fd */
	size_t			 readlen;	/* of owned, read from the file
						   (mime_parse_header_fd) */
	struct mime_part	*root;		/* the message itself */
	int			 nparts;
	int			 truncated;	/* a limit was reached */
};

struct mime_msg	*mime_parse(const char *, size_t, const struct mime_limits *);
struct mime_msg	*mime_parse_fd(int, size_t, const struct mime_limits *);
struct mime_msg	*mime_parse_header_fd(int, size_t, size_t);
size_t		 mime_vsize(const char *, size_t);
void		 mime_free(struct mime_msg *);

/* Header fields of a header range (with the blank line). */
int		 mime_header_get(const struct mime_msg *,
		    const struct mime_range *, const char *, char **, int *);
int		 mime_header_get_nth(const struct mime_msg *,
		    const struct mime_range *, const char *, int, char **,
		    int *);
char		*mime_unfold(const char *, size_t);
int		 mime_parse_params(const char *, char **, char **,
		    struct mime_param **, int *);
void		 mime_params_free(struct mime_param *, int);

/* A part by its section numbers, as FETCH BODY[1.2] names it. */
struct mime_part *mime_section_part(struct mime_msg *, const uint32_t *,
		    int);

enum mime_text {
	MT_NONE, MT_HEADER, MT_HEADER_FIELDS, MT_HEADER_FIELDS_NOT, MT_TEXT,
	MT_MIME,
};

/* mime_write.c */
#define MIME_ADDR_PART_MAX	1024
struct mime_addr {
	int		 found;
	char		 name[MIME_ADDR_PART_MAX];	/* as written */
	char		 local[MIME_ADDR_PART_MAX];
	char		 domain[MIME_ADDR_PART_MAX];
};
int		 mime_first_addr(const struct mime_msg *,
		    const struct mime_part *, const char *,
		    struct mime_addr *);
int		 mime_write_bodystructure(FILE *, const struct mime_msg *,
		    const struct mime_part *, int);
int		 mime_write_envelope(FILE *, const struct mime_msg *,
		    const struct mime_part *);
void		 mime_write_string(FILE *, const char *, size_t);
void		 mime_write_nstring(FILE *, const char *);
int		 mime_section_range(struct mime_msg *, const uint32_t *, int,
		    enum mime_text, struct mime_range *);
size_t		 mime_write_crlf(FILE *, const char *, size_t, size_t,
		    size_t);
size_t		 mime_write_fields(FILE *, const struct mime_msg *,
		    const struct mime_range *, const char *const *, int, int);
int		 mime_section_contents(struct mime_msg *, const uint32_t *,
		    int, enum mime_text, const char *const *, int, char **,
		    size_t *);

/* mime_decode.c */
int		 mime_decode_qp(const char *, size_t, char *, size_t *,
		    int);
int		 mime_decode_base64(const char *, size_t, char *, size_t *);
char		*mime_decode_header(const char *, size_t);
char		*mime_to_utf8(const char *, const char *, size_t);
/* Before a chroot: the iconv modules of common charsets, loaded. */
void		 mime_charsets_preload(void);
int		 mime_utf8_contains(const char *, size_t, const char *,
		    size_t);
size_t		 mime_utf8_encode(uint32_t, char *);
char		*mime_utf8_map(const char *, size_t,
		    size_t (*)(uint32_t, char *), size_t *);
locale_t	 mime_utf8_locale(void);

#endif
