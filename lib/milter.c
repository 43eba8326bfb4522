/*
 * The milter protocol codec (milter.h): the MTA's packets built into a
 * bounded buffer, and the milter's replies framed and parsed with every
 * length, string and reply code checked, so that the client in the
 * smtp engine only ever sees well-formed values.
 */

#include <sys/types.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter.h"

static int	out_packet(struct milter_out *, char cmd, size_t datalen);
static void	out_bytes(struct milter_out *, const void *, size_t);
static void	out_str(struct milter_out *, const char *);
static int	put_args(struct milter_out *, char cmd,
		    const char *const *, size_t);
static int	take_str(const uint8_t **, size_t *, const char **);
static int	check_header_name(const char *);
static int	check_text(const char *, int allow_fold);
static int	check_replycode(const char *, int *, char *, size_t);

void
milter_out_init(struct milter_out *o, size_t max)
{
	memset(o, 0, sizeof(*o));
	o->max = max;
}

void
milter_out_reset(struct milter_out *o)
{
	o->len = 0;
	o->error = 0;
}

void
milter_out_free(struct milter_out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

/*
 * Room for a packet of datalen bytes, and its header written: 0, or -1
 * when it would pass the buffer's limit (the buffer is left as it was).
 */
static int
out_packet(struct milter_out *o, char cmd, size_t datalen)
{
	size_t		 need, nsize;
	uint8_t		*nbuf;
	uint32_t	 n;

	if (o->error || datalen > MILTER_PACKET_MAX ||
	    o->len + MILTER_HDR_LEN + datalen > o->max) {
		o->error = 1;
		return -1;
	}
	need = o->len + MILTER_HDR_LEN + datalen;
	if (need > o->size) {
		nsize = o->size ? o->size : 256;
		while (nsize < need)
			nsize *= 2;
		if (nsize > o->max)
			nsize = o->max;
		if ((nbuf = realloc(o->buf, nsize)) == NULL) {
			o->error = 1;
			return -1;
		}
		o->buf = nbuf;
		o->size = nsize;
	}
	n = htonl((uint32_t)datalen + 1);
	memcpy(o->buf + o->len, &n, 4);
	o->buf[o->len + 4] = (uint8_t)cmd;
	o->len += MILTER_HDR_LEN;
	return 0;
}

/* Only after out_packet() made the room. */
static void
out_bytes(struct milter_out *o, const void *p, size_t n)
{
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void
out_str(struct milter_out *o, const char *s)
{
	out_bytes(o, s, strlen(s) + 1);
}

int
milter_put_optneg(struct milter_out *o, uint32_t version, uint32_t actions,
    uint32_t proto)
{
	uint32_t	 v[3];

	if (out_packet(o, SMFIC_OPTNEG, sizeof(v)) == -1)
		return -1;
	v[0] = htonl(version);
	v[1] = htonl(actions);
	v[2] = htonl(proto);
	out_bytes(o, v, sizeof(v));
	return 0;
}

int
milter_put_connect(struct milter_out *o, const char *hostname, char family,
    uint16_t port, const char *addr)
{
	size_t		 n;
	uint16_t	 nport;

	n = strlen(hostname) + 2;
	if (family == '4' || family == '6')
		n += 2 + strlen(addr) + 1;
	else if (family == 'L')
		n += 2 + strlen(addr) + 1;
	else
		family = 'U';
	if (out_packet(o, SMFIC_CONNECT, n) == -1)
		return -1;
	out_str(o, hostname);
	out_bytes(o, &family, 1);
	if (family != 'U') {
		nport = htons(family == 'L' ? 0 : port);
		out_bytes(o, &nport, 2);
		out_str(o, addr);
	}
	return 0;
}

int
milter_put_helo(struct milter_out *o, const char *helo)
{
	if (out_packet(o, SMFIC_HELO, strlen(helo) + 1) == -1)
		return -1;
	out_str(o, helo);
	return 0;
}

static int
put_args(struct milter_out *o, char cmd, const char *const *args,
    size_t nargs)
{
	size_t	 i, n = 0;

	if (nargs == 0) {
		o->error = 1;
		return -1;
	}
	for (i = 0; i < nargs; i++)
		n += strlen(args[i]) + 1;
	if (out_packet(o, cmd, n) == -1)
		return -1;
	for (i = 0; i < nargs; i++)
		out_str(o, args[i]);
	return 0;
}

int
milter_put_mail(struct milter_out *o, const char *const *args, size_t nargs)
{
	return put_args(o, SMFIC_MAIL, args, nargs);
}

int
milter_put_rcpt(struct milter_out *o, const char *const *args, size_t nargs)
{
	return put_args(o, SMFIC_RCPT, args, nargs);
}

int
milter_put_data(struct milter_out *o)
{
	return out_packet(o, SMFIC_DATA, 0);
}

int
milter_put_header(struct milter_out *o, const char *name, const char *value)
{
	if (out_packet(o, SMFIC_HEADER, strlen(name) + strlen(value) + 2) ==
	    -1)
		return -1;
	out_str(o, name);
	out_str(o, value);
	return 0;
}

int
milter_put_eoh(struct milter_out *o)
{
	return out_packet(o, SMFIC_EOH, 0);
}

int
milter_put_body(struct milter_out *o, const void *p, size_t n)
{
	if (n == 0 || n > MILTER_CHUNK_MAX) {
		o->error = 1;
		return -1;
	}
	if (out_packet(o, SMFIC_BODY, n) == -1)
		return -1;
	out_bytes(o, p, n);
	return 0;
}

int
milter_put_eob(struct milter_out *o)
{
	return out_packet(o, SMFIC_BODYEOB, 0);
}

int
milter_put_abort(struct milter_out *o)
{
	return out_packet(o, SMFIC_ABORT, 0);
}

int
milter_put_quit(struct milter_out *o)
{
	return out_packet(o, SMFIC_QUIT, 0);
}

int
milter_put_quit_nc(struct milter_out *o)
{
	return out_packet(o, SMFIC_QUIT_NC, 0);
}

int
milter_put_macros(struct milter_out *o, char cmd,
    const struct milter_macro *m, size_t n)
{
	size_t	 i, len = 1;

	for (i = 0; i < n; i++)
		if (m[i].value != NULL)
			len += strlen(m[i].name) + strlen(m[i].value) + 2;
	if (out_packet(o, SMFIC_MACRO, len) == -1)
		return -1;
	out_bytes(o, &cmd, 1);
	for (i = 0; i < n; i++) {
		if (m[i].value == NULL)
			continue;
		out_str(o, m[i].name);
		out_str(o, m[i].value);
	}
	return 0;
}

int
milter_frame(const uint8_t *buf, size_t len, size_t max, char *cmd,
    const uint8_t **data, size_t *datalen, size_t *used)
{
	uint32_t	 n;

	if (len < 4)
		return 0;
	memcpy(&n, buf, 4);
	n = ntohl(n);
	/* The length counts the command byte: 0 is no packet at all. */
	if (n == 0 || n - 1 > max)
		return -1;
	if (len - 4 < n)
		return 0;
	*cmd = (char)buf[4];
	*data = buf + MILTER_HDR_LEN;
	*datalen = n - 1;
	*used = 4 + (size_t)n;
	return 1;
}

/* A NUL-terminated string at *p: taken, or -1 if it runs off the end. */
static int
take_str(const uint8_t **p, size_t *len, const char **s)
{
	const uint8_t	*nul;

	if (*len == 0 || (nul = memchr(*p, '\0', *len)) == NULL)
		return -1;
	*s = (const char *)*p;
	*len -= nul - *p + 1;
	*p = nul + 1;
	return 0;
}

static int
take_u32(const uint8_t **p, size_t *len, uint32_t *v)
{
	if (*len < 4)
		return -1;
	memcpy(v, *p, 4);
	*v = ntohl(*v);
	*p += 4;
	*len -= 4;
	return 0;
}

/* RFC 5322 2.2: printable ASCII but the colon. */
static int
check_header_name(const char *s)
{
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 127 || *s == ':')
			return -1;
	return 0;
}

/*
 * Text for a header value or a reply: no control characters but tabs,
 * and, for folded values, CRLF only when a space or tab follows; a
 * header value may also use LF alone, as libmilter writes folds.
 * Bytes past ASCII are let through (RFC 6532 headers).
 */
static int
check_text(const char *s, int allow_fold)
{
	const unsigned char	*p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p == '\t' || (*p >= ' ' && *p != 127))
			continue;
		if (!allow_fold)
			return -1;
		if (*p == '\r' && p[1] == '\n')
			p++;
		else if (*p != '\n')
			return -1;
		if (p[1] != ' ' && p[1] != '\t')
			return -1;
	}
	return 0;
}

/*
 * "550 5.7.1 text" or lines "550-5.7.1 a\r\n550 5.7.1 b": one code,
 * 4xx or 5xx, the same on every line, an enhanced code of its class.
 */
static int
check_replycode(const char *s, int *code, char *err, size_t errlen)
{
	const char	*line = s, *eol;
	int		 c, first = -1;

	for (;;) {
		if (!isdigit((unsigned char)line[0]) ||
		    !isdigit((unsigned char)line[1]) ||
		    !isdigit((unsigned char)line[2])) {
			snprintf(err, errlen, "reply code is not 3 digits");
			return -1;
		}
		c = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (first == -1)
			first = c;
		if (c != first || (line[0] != '4' && line[0] != '5') ||
		    !isdigit((unsigned char)line[1]) || line[1] > '5') {
			snprintf(err, errlen, "reply code %d not allowed", c);
			return -1;
		}
		eol = strstr(line, "\r\n");
		if (line[3] != ' ' && line[3] != '-' && line[3] != '\0' &&
		    !(eol == line + 3)) {
			snprintf(err, errlen, "no space after reply code");
			return -1;
		}
		/* An enhanced code, if given, of the same class. */
		if (line[3] != '\0' && isdigit((unsigned char)line[4]) &&
		    line[5] == '.' && line[4] != line[0]) {
			snprintf(err, errlen, "enhanced code class differs "
			    "from reply code");
			return -1;
		}
		if (eol == NULL) {
			if (line[3] == '-') {
				snprintf(err, errlen, "last reply line "
				    "marked as continued");
				return -1;
			}
			break;
		}
		if (line[3] != '-') {
			snprintf(err, errlen, "reply line after the last");
			return -1;
		}
		line = eol + 2;
	}
	/* Lines apart, no control characters at all. */
	for (line = s; *line != '\0'; line++) {
		if (line[0] == '\r' && line[1] == '\n') {
			line++;
			continue;
		}
		if ((unsigned char)*line < ' ' && *line != '\t') {
			snprintf(err, errlen, "control character in reply");
			return -1;
		}
		if (*line == 127) {
			snprintf(err, errlen, "control character in reply");
			return -1;
		}
	}
	*code = first;
	return 0;
}

int
milter_parse_reply(char cmd, const uint8_t *data, size_t len,
    struct milter_reply *r, char *err, size_t errlen)
{
	const char	*extra;

	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->text = r->args = "";
	switch (cmd) {
	case SMFIR_ACCEPT:
	case SMFIR_CONTINUE:
	case SMFIR_DISCARD:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_PROGRESS:
	case SMFIR_SKIP:
	case SMFIR_CONN_FAIL:
	case SMFIR_SHUTDOWN:
		if (len != 0)
			goto trailing;
		return 0;
	case SMFIC_OPTNEG:
		/* A SETSYMLIST list may follow; we send every macro. */
		if (take_u32(&data, &len, &r->version) == -1 ||
		    take_u32(&data, &len, &r->actions) == -1 ||
		    take_u32(&data, &len, &r->proto) == -1)
			goto short_;
		return 0;
	case SMFIR_REPLYCODE:
		if (take_str(&data, &len, &r->text) == -1)
			goto short_;
		if (len != 0)
			goto trailing;
		return check_replycode(r->text, &r->code, err, errlen);
	case SMFIR_QUARANTINE:
		if (take_str(&data, &len, &r->text) == -1)
			goto short_;
		if (len != 0)
			goto trailing;
		if (check_text(r->text, 0) == -1)
			goto badtext;
		return 0;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		if (take_u32(&data, &len, &r->index) == -1)
			goto short_;
		/* FALLTHROUGH */
	case SMFIR_ADDHEADER:
		if (take_str(&data, &len, &r->name) == -1 ||
		    take_str(&data, &len, &r->value) == -1)
			goto short_;
		if (len != 0)
			goto trailing;
		if (check_header_name(r->name) == -1) {
			snprintf(err, errlen, "bad header name");
			return -1;
		}
		if (check_text(r->value, 1) == -1)
			goto badtext;
		return 0;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		if (take_str(&data, &len, &r->addr) == -1)
			goto short_;
		if ((cmd == SMFIR_ADDRCPT_PAR || cmd == SMFIR_CHGFROM) &&
		    len > 0) {
			if (take_str(&data, &len, &extra) == -1)
				goto short_;
			r->args = extra;
		}
		if (len != 0)
			goto trailing;
		if (r->addr[0] == '\0' || check_text(r->addr, 0) == -1 ||
		    check_text(r->args, 0) == -1)
			goto badtext;
		return 0;
	case SMFIR_REPLBODY:
		r->body = data;
		r->bodylen = len;
		return 0;
	default:
		snprintf(err, errlen, "unknown reply 0x%02x",
		    (unsigned char)cmd);
		return -1;
	}
 short_:
	snprintf(err, errlen, "%s: short or unterminated data",
	    milter_cmd_name(cmd));
	return -1;
 trailing:
	snprintf(err, errlen, "%s: trailing data", milter_cmd_name(cmd));
	return -1;
 badtext:
	snprintf(err, errlen, "%s: bad characters", milter_cmd_name(cmd));
	return -1;
}

int
milter_check_optneg(const struct milter_reply *r, uint32_t actions,
    uint32_t proto, char *err, size_t errlen)
{
	if (r->cmd != SMFIC_OPTNEG) {
		snprintf(err, errlen, "%s instead of OPTNEG",
		    milter_cmd_name(r->cmd));
		return -1;
	}
	/* Version 2 is the oldest libmilter speaks; 6 is ours. */
	if (r->version < 2 || r->version > MILTER_VERSION) {
		snprintf(err, errlen, "protocol version %u not supported",
		    r->version);
		return -1;
	}
	if ((r->actions & ~actions) != 0) {
		snprintf(err, errlen, "actions %#x not offered",
		    r->actions & ~actions);
		return -1;
	}
	if ((r->proto & ~proto) != 0) {
		snprintf(err, errlen, "protocol steps %#x not offered",
		    r->proto & ~proto);
		return -1;
	}
	return 0;
}

const char *
milter_cmd_name(char cmd)
{
	switch (cmd) {
	case SMFIR_ADDRCPT:	return "ADDRCPT";
	case SMFIR_DELRCPT:	return "DELRCPT";
	case SMFIR_ADDRCPT_PAR:	return "ADDRCPT_PAR";
	case SMFIR_SHUTDOWN:	return "SHUTDOWN";
	case SMFIR_ACCEPT:	return "ACCEPT";
	case SMFIR_REPLBODY:	return "REPLBODY";
	case SMFIR_CONTINUE:	return "CONTINUE";
	case SMFIR_DISCARD:	return "DISCARD";
	case SMFIR_CHGFROM:	return "CHGFROM";
	case SMFIR_CONN_FAIL:	return "CONN_FAIL";
	case SMFIR_ADDHEADER:	return "ADDHEADER";
	case SMFIR_INSHEADER:	return "INSHEADER";
	case SMFIR_SETSYMLIST:	return "SETSYMLIST";
	case SMFIR_CHGHEADER:	return "CHGHEADER";
	case SMFIR_PROGRESS:	return "PROGRESS";
	case SMFIR_QUARANTINE:	return "QUARANTINE";
	case SMFIR_REJECT:	return "REJECT";
	case SMFIR_SKIP:	return "SKIP";
	case SMFIR_TEMPFAIL:	return "TEMPFAIL";
	case SMFIR_REPLYCODE:	return "REPLYCODE";
	case SMFIC_OPTNEG:	return "OPTNEG";
	case SMFIC_ABORT:	return "ABORT";
	case SMFIC_BODY:	return "BODY";
	case SMFIC_CONNECT:	return "CONNECT";
	case SMFIC_MACRO:	return "MACRO";
	case SMFIC_BODYEOB:	return "BODYEOB";
	case SMFIC_HELO:	return "HELO";
	case SMFIC_QUIT_NC:	return "QUIT_NC";
	case SMFIC_HEADER:	return "HEADER";
	case SMFIC_MAIL:	return "MAIL";
	case SMFIC_EOH:		return "EOH";
	case SMFIC_QUIT:	return "QUIT";
	case SMFIC_RCPT:	return "RCPT";
	case SMFIC_DATA:	return "DATA";
	case SMFIC_UNKNOWN:	return "UNKNOWN";
	default:		return "unknown";
	}
}
