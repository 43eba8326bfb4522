/*
 * The Sendmail milter protocol, version 6, as a codec with no I/O: the
 * packets an MTA sends (built into a bounded buffer) and the replies a
 * milter sends back (framed and parsed, every field checked).  The
 * smtp engine's client (smtpd/smtp_milter.c) does the talking.
 *
 * A packet is a 32-bit length in network order, counting the command
 * byte and the data, then the command byte, then the data.
 */

#ifndef TSAMBA_MILTER_H
#define TSAMBA_MILTER_H

#include <stddef.h>
#include <stdint.h>

#define MILTER_VERSION		6
#define MILTER_CHUNK_MAX	65535	/* one BODY packet's data */
/* The largest reply data taken: a REPLBODY chunk of libmilter's 1M mode
 * is the biggest thing a milter sends. */
#define MILTER_PACKET_MAX	(1024 * 1024)
#define MILTER_HDR_LEN		5	/* length and command */

/* MTA to milter. */
#define SMFIC_ABORT	'A'
#define SMFIC_BODY	'B'
#define SMFIC_CONNECT	'C'
#define SMFIC_MACRO	'D'
#define SMFIC_BODYEOB	'E'
#define SMFIC_HELO	'H'
#define SMFIC_QUIT_NC	'K'
#define SMFIC_HEADER	'L'
#define SMFIC_MAIL	'M'
#define SMFIC_EOH	'N'
#define SMFIC_OPTNEG	'O'
#define SMFIC_QUIT	'Q'
#define SMFIC_RCPT	'R'
#define SMFIC_DATA	'T'
#define SMFIC_UNKNOWN	'U'

/* Milter to MTA. */
#define SMFIR_ADDRCPT		'+'
#define SMFIR_DELRCPT		'-'
#define SMFIR_ADDRCPT_PAR	'2'
#define SMFIR_SHUTDOWN		'4'
#define SMFIR_ACCEPT		'a'
#define SMFIR_REPLBODY		'b'
#define SMFIR_CONTINUE		'c'
#define SMFIR_DISCARD		'd'
#define SMFIR_CHGFROM		'e'
#define SMFIR_CONN_FAIL		'f'
#define SMFIR_ADDHEADER		'h'
#define SMFIR_INSHEADER		'i'
#define SMFIR_SETSYMLIST	'l'
#define SMFIR_CHGHEADER		'm'
#define SMFIR_PROGRESS		'p'
#define SMFIR_QUARANTINE	'q'
#define SMFIR_REJECT		'r'
#define SMFIR_SKIP		's'
#define SMFIR_TEMPFAIL		't'
#define SMFIR_REPLYCODE		'y'

/* Actions a milter may take (negotiated). */
#define SMFIF_ADDHDRS		0x0001
#define SMFIF_CHGBODY		0x0002
#define SMFIF_ADDRCPT		0x0004
#define SMFIF_DELRCPT		0x0008
#define SMFIF_CHGHDRS		0x0010
#define SMFIF_QUARANTINE	0x0020
#define SMFIF_CHGFROM		0x0040
#define SMFIF_ADDRCPT_PAR	0x0080
#define SMFIF_SETSYMLIST	0x0100

/* Protocol steps: the milter asks to skip a step or not to answer it. */
#define SMFIP_NOCONNECT		0x00000001
#define SMFIP_NOHELO		0x00000002
#define SMFIP_NOMAIL		0x00000004
#define SMFIP_NORCPT		0x00000008
#define SMFIP_NOBODY		0x00000010
#define SMFIP_NOHDRS		0x00000020
#define SMFIP_NOEOH		0x00000040
#define SMFIP_NR_HDR		0x00000080
#define SMFIP_NOUNKNOWN		0x00000100
#define SMFIP_NODATA		0x00000200
#define SMFIP_SKIP		0x00000400
#define SMFIP_RCPT_REJ		0x00000800
#define SMFIP_NR_CONN		0x00001000
#define SMFIP_NR_HELO		0x00002000
#define SMFIP_NR_MAIL		0x00004000
#define SMFIP_NR_RCPT		0x00008000
#define SMFIP_NR_DATA		0x00010000
#define SMFIP_NR_UNKN		0x00020000
#define SMFIP_NR_EOH		0x00040000
#define SMFIP_NR_BODY		0x00080000
#define SMFIP_HDR_LEADSPC	0x00100000

/* What tsamba offers: every action, every step it can leave out. */
#define MILTER_ACTIONS_OFFERED	(SMFIF_ADDHDRS | SMFIF_CHGBODY | \
	SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS | SMFIF_QUARANTINE | \
	SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR)
#define MILTER_PROTO_OFFERED	(SMFIP_NOCONNECT | SMFIP_NOHELO | \
	SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS | \
	SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_NODATA | \
	SMFIP_SKIP | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | \
	SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | \
	SMFIP_NR_BODY | SMFIP_HDR_LEADSPC)

/* Packets being built: a growing buffer that stops at max bytes. */
struct milter_out {
	uint8_t		*buf;
	size_t		 len;
	size_t		 size;
	size_t		 max;
	int		 error;		/* a packet did not fit */
};

/* A macro: a name as Sendmail spells it ("j", "{daemon_name}"). */
struct milter_macro {
	const char	*name;
	const char	*value;
};

void	milter_out_init(struct milter_out *, size_t max);
void	milter_out_reset(struct milter_out *);	/* empty, keep the memory */
void	milter_out_free(struct milter_out *);

/* Each appends one packet: 0, or -1 (and out->error) if it cannot. */
int	milter_put_optneg(struct milter_out *, uint32_t version,
	    uint32_t actions, uint32_t proto);
/* family: 0 unknown, '4', '6' or 'L' (UNIX); addr and port by family. */
int	milter_put_connect(struct milter_out *, const char *hostname,
	    char family, uint16_t port, const char *addr);
int	milter_put_helo(struct milter_out *, const char *);
/* MAIL and RCPT: the path in <>, then each ESMTP argument. */
int	milter_put_mail(struct milter_out *, const char *const *args,
	    size_t nargs);
int	milter_put_rcpt(struct milter_out *, const char *const *args,
	    size_t nargs);
int	milter_put_data(struct milter_out *);
int	milter_put_header(struct milter_out *, const char *name,
	    const char *value);
int	milter_put_eoh(struct milter_out *);
/* A body chunk of at most MILTER_CHUNK_MAX bytes. */
int	milter_put_body(struct milter_out *, const void *, size_t);
int	milter_put_eob(struct milter_out *);
int	milter_put_abort(struct milter_out *);
int	milter_put_quit(struct milter_out *);
int	milter_put_quit_nc(struct milter_out *);
/* The macros of the step cmd (SMFIC_CONNECT, ...): NULL values skipped. */
int	milter_put_macros(struct milter_out *, char cmd,
	    const struct milter_macro *, size_t n);

/*
 * Framing: with buf holding len bytes of input, 1 when a whole packet
 * is there (*cmd, *data, *datalen set, *used its size), 0 when more is
 * needed, -1 when the length is 0 or over max (a protocol error).
 */
int	milter_frame(const uint8_t *buf, size_t len, size_t max, char *cmd,
	    const uint8_t **data, size_t *datalen, size_t *used);

/* A parsed reply; the pointers point into the packet's data. */
struct milter_reply {
	char		 cmd;		/* SMFIR_* */
	/* OPTNEG */
	uint32_t	 version;
	uint32_t	 actions;
	uint32_t	 proto;
	/* Headers (index for INS/CHG, 1-based for CHG, value "" deletes). */
	uint32_t	 index;
	const char	*name;
	const char	*value;
	/* ADDRCPT(_PAR), DELRCPT, CHGFROM: addr, and args ("" if none). */
	const char	*addr;
	const char	*args;
	/* REPLBODY */
	const uint8_t	*body;
	size_t		 bodylen;
	/* REPLYCODE: the code and the text, CRLF between lines;
	 * QUARANTINE: the reason in text. */
	int		 code;
	const char	*text;
};

/*
 * Parse one reply: 0, or -1 with the reason in err.  A reply code
 * must be 4xx or 5xx, each line of it the same code, an enhanced code
 * (if any) of the same class, and no control characters; header names
 * and values must be printable (CRLF-folded values allowed).
 */
int	milter_parse_reply(char cmd, const uint8_t *data, size_t len,
	    struct milter_reply *, char *err, size_t errlen);

/*
 * Check a negotiation answer against what was offered: 0, or -1 with
 * the reason (a version we do not speak, an action or step not offered).
 */
int	milter_check_optneg(const struct milter_reply *, uint32_t actions,
	    uint32_t proto, char *err, size_t errlen);

/* The name of a command or reply byte, for logs ("REJECT"). */
const char *milter_cmd_name(char cmd);

#endif
