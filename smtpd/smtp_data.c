/*
 * Message bodies: the Received header, DATA input (dot-unstuffing, CRLF
 * only, bare CR or LF refused to defeat SMTP smuggling, the end only at
 * CRLF.CRLF), BDAT chunks (CRLF only as well), NUL refused everywhere,
 * the size limit, and buffered writes into the spool file the queue
 * handed us.  When the inbound checks run, the client's bytes also go
 * to them (the DKIM body hashes), and the header section is held one
 * field at a time: the checks see each field, and an incoming
 * Authentication-Results claiming our authserv-id is not written.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "authres.h"
#include "conf.h"
#include "io.h"
#include "log.h"
#include "smtpd.h"

static void	body_flush(struct smtp_body_state *);
static void	body_put(struct smtp_body_state *, const char *, size_t);
static void	body_out(struct smtp_tx *, const char *, size_t);
static void	header_out(struct smtp_tx *, const char *, size_t);
static void	header_flush(struct smtp_tx *);

/* Start a body; fd -1 means the queue gave us no file: read, discard. */
int
data_begin(struct smtp_tx *tx, int fd)
{
	struct smtp_body_state	*bs = &tx->bs;

	memset(bs, 0, sizeof(*bs));
	bs->fd = fd;
	bs->state = DS_BOL;
	if (fd == -1) {
		bs->errors |= DATA_NOFILE;
		return 0;
	}
	if ((bs->wbuf = malloc(SMTP_WBUF_SIZE)) == NULL) {
		log_warn("session %016llx: body buffer",
		    (unsigned long long)tx->session->id);
		bs->errors |= DATA_WERR;
		bs->werrno = ENOMEM;
		return -1;
	}
	if (tx->check != NULL) {
		if ((bs->field = malloc(SMTP_FIELD_MAX)) == NULL) {
			bs->errors |= DATA_WERR;
			bs->werrno = ENOMEM;
			return -1;
		}
		bs->in_header = bs->hbol = 1;
	}
	return 0;
}

/* Write what is buffered; a failure (disk full) refuses the message. */
static void
body_flush(struct smtp_body_state *bs)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < bs->wlen && !(bs->errors & DATA_WERR)) {
		n = write(bs->fd, bs->wbuf + off, bs->wlen - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			bs->errors |= DATA_WERR;
			bs->werrno = errno;
			break;
		}
		off += n;
	}
	bs->wlen = 0;
}

/* Bytes into the file through the buffer, one write(2) per buffer. */
static void
body_put(struct smtp_body_state *bs, const char *p, size_t n)
{
	size_t	 room;

	if (bs->errors != 0)
		return;
	while (n > 0) {
		room = SMTP_WBUF_SIZE - bs->wlen;
		if (room == 0) {
			body_flush(bs);
			if (bs->errors != 0)
				return;
			continue;
		}
		if (room > n)
			room = n;
		memcpy(bs->wbuf + bs->wlen, p, room);
		bs->wlen += room;
		p += room;
		n -= room;
	}
}

/* Client bytes: counted against the size limit, then written. */
static void
body_out(struct smtp_tx *tx, const char *p, size_t n)
{
	struct smtp_body_state	*bs = &tx->bs;

	bs->size += n;
	if (bs->size > smtpd_conf->max_message_size)
		bs->errors |= DATA_TOOBIG;
	if (tx->check != NULL && bs->errors == 0)
		check_body(tx->check, p, n);
	if (bs->in_header)
		header_out(tx, p, n);
	else
		body_put(bs, p, n);
}

/* The field held is complete: judged, then written or dropped. */
static void
field_end(struct smtp_tx *tx)
{
	struct smtp_body_state	*bs = &tx->bs;

	if (!bs->fielddrop && !bs->fieldpass && bs->fieldlen > 0) {
		check_header(tx->check, bs->field, bs->fieldlen);
		if (authres_is_ours(bs->field, bs->fieldlen,
		    smtpd_conf->hostname))
			log_info("session %016llx: message %s: incoming "
			    "Authentication-Results for %s removed",
			    (unsigned long long)tx->session->id, tx->msgid,
			    smtpd_conf->hostname);
		else
			body_put(bs, bs->field, bs->fieldlen);
	}
	bs->fieldlen = 0;
	bs->fielddrop = bs->fieldpass = 0;
}

/*
 * Part of a field.  One too long to hold is written through, unless it
 * is an Authentication-Results: that one could hide our authserv-id
 * past the part held, so it goes.
 */
static void
field_add(struct smtp_tx *tx, const char *p, size_t n)
{
	struct smtp_body_state	*bs = &tx->bs;
	static const char	 ar[] = "Authentication-Results";
	size_t			 room;

	if (bs->fielddrop)
		return;
	if (bs->fieldpass) {
		body_put(bs, p, n);
		return;
	}
	room = SMTP_FIELD_MAX - bs->fieldlen;
	if (room > n)
		room = n;
	memcpy(bs->field + bs->fieldlen, p, room);
	bs->fieldlen += room;
	if (room == n)
		return;
	/* Full: the field holds its first SMTP_FIELD_MAX bytes. */
	if (strncasecmp(bs->field, ar, sizeof(ar) - 1) == 0) {
		bs->fielddrop = 1;
		return;
	}
	/* An over-long From: counts, as one without an author. */
	if (strncasecmp(bs->field, "From:", 5) == 0)
		check_header(tx->check, "From:", 5);
	body_put(bs, bs->field, bs->fieldlen);
	body_put(bs, p + room, n - room);
	bs->fieldpass = 1;
}

/* Header section bytes, split into fields at the lines' starts. */
static void
header_out(struct smtp_tx *tx, const char *p, size_t n)
{
	struct smtp_body_state	*bs = &tx->bs;
	const char		*nl;
	size_t			 take;

	while (n > 0) {
		if (!bs->in_header) {
			body_put(bs, p, n);
			return;
		}
		if (bs->hbol) {
			if (p[0] != ' ' && p[0] != '\t')
				field_end(tx);
			if (p[0] == '\r' || p[0] == '\n') {
				/* The empty line: the body follows. */
				bs->in_header = 0;
				check_header_end(tx->check);
				continue;
			}
			bs->hbol = 0;
		}
		nl = memchr(p, '\n', n);
		take = nl != NULL ? (size_t)(nl - p) + 1 : n;
		field_add(tx, p, take);
		if (nl != NULL)
			bs->hbol = 1;
		p += take;
		n -= take;
	}
}

/* A message that ends inside its header section. */
static void
header_flush(struct smtp_tx *tx)
{
	struct smtp_body_state	*bs = &tx->bs;

	if (!bs->in_header)
		return;
	field_end(tx);
	bs->in_header = 0;
}

int
data_write_received(struct smtp_session *s)
{
	struct smtp_tx	*tx = s->tx;
	char		 date[64], head[2048], proto[16];
	char		 from[SMTP_HELO_MAX + SMTP_IP_MAX + 16];
	const char	*tlsinfo;
	struct tm	 tm;
	time_t		 now;
	int		 n;

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z",
	    &tm) == 0)
		strlcpy(date, "Thu, 01 Jan 1970 00:00:00 +0000", sizeof(date));

	/* RFC 3848: S for TLS, A for AUTH. */
	if (tx->smtputf8)
		strlcpy(proto, "UTF8SMTP", sizeof(proto));
	else if (s->esmtp || s->tls)
		strlcpy(proto, "ESMTP", sizeof(proto));
	else
		strlcpy(proto, "SMTP", sizeof(proto));
	if (s->tls)
		strlcat(proto, "S", sizeof(proto));
	if (s->auth_user[0] != '\0')
		strlcat(proto, "A", sizeof(proto));
	tlsinfo = s->tls ? io_tls_info(s->io) : NULL;

	/*
	 * hide-client: no from clause at all, as Postfix writes for mail
	 * it picks up locally ("Received: by host ..."), rather than a
	 * made-up "from localhost" that would be a lie in the trace.
	 */
	if (s->l->cl->flags & LISTEN_HIDE_CLIENT)
		from[0] = '\0';
	else
		(void)snprintf(from, sizeof(from), "from %s ([%s]) ", s->helo,
		    s->ip);

	n = snprintf(head, sizeof(head),
	    "Received: %sby %s (tsamba) with %s id %s%s\r\n"
	    "%s%s%s"
	    "\t%s%s%s%s\r\n",
	    from, smtpd_conf->hostname, proto, tx->msgid,
	    tx->nrcpt == 1 ? "" : ";",
	    tlsinfo ? "\t(" : "", tlsinfo ? tlsinfo : "",
	    tlsinfo ? ")\r\n" : "",
	    tx->nrcpt == 1 ? "for <" : "",
	    tx->nrcpt == 1 ? tx->first_orcpt : "",
	    tx->nrcpt == 1 ? ">; " : "", date);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		log_warnx("session %016llx: Received header too long",
		    (unsigned long long)s->id);
		return -1;
	}
	body_put(&tx->bs, head, n);
	return 0;
}

/*
 * Scan DATA input.  Only CRLF ends a line; a CR or LF alone anywhere
 * marks the message for refusal and the scanner then waits for the one
 * true end, CRLF.CRLF, so that nothing hidden behind "\n.\r\n" or
 * "\r\n.\n" can become a second message.  A NUL is refused the same
 * way: RFC 5321 2.3.8 allows none, and a next hop that drops NULs
 * would read "\r\n\0.\r\n" as the end of the message.  Refusing
 * rather than stripping keeps the stored message the one the client
 * sent, or none at all.
 */
size_t
data_feed_dotted(struct smtp_tx *tx, const char *buf, size_t len, int *done)
{
	struct smtp_body_state	*bs = &tx->bs;
	size_t			 i = 0, j;

	*done = 0;
	while (i < len) {
		switch (bs->state) {
		case DS_TEXT:
			for (j = i; j < len && buf[j] != '\r' &&
			    buf[j] != '\n' && buf[j] != '\0'; j++)
				;
			if (j > i) {
				body_out(tx, buf + i, j - i);
				i = j;
				continue;
			}
			if (buf[i] == '\r')
				bs->state = DS_CR;
			else if (buf[i] == '\0')
				bs->errors |= DATA_NUL;
			else
				bs->errors |= DATA_BARE;
			i++;
			break;
		case DS_BOL:
			if (buf[i] == '.') {
				bs->state = DS_DOT;
				i++;
			} else
				bs->state = DS_TEXT;
			break;
		case DS_DOT:
			/* A leading dot is dropped (unstuffing). */
			if (buf[i] == '\r') {
				bs->state = DS_DOTCR;
				i++;
			} else
				bs->state = DS_TEXT;
			break;
		case DS_DOTCR:
			if (buf[i] == '\n') {
				*done = 1;
				return i + 1;
			}
			bs->errors |= DATA_BARE;
			bs->state = DS_TEXT;
			break;
		case DS_CR:
			if (buf[i] == '\n') {
				body_out(tx, "\r\n", 2);
				bs->state = DS_BOL;
				i++;
			} else {
				bs->errors |= DATA_BARE;
				bs->state = DS_TEXT;
			}
			break;
		}
	}
	return i;
}

/*
 * A BDAT chunk goes in as it is, but held to the rule of DATA: only
 * CRLF ends a line, and no NUL.  The queue relays the body over LMTP
 * or SMTP DATA, where a bare CR or LF (or a NUL a next hop drops)
 * could end it early and smuggle commands.  A CRLF may straddle two
 * chunks, so the state outlives the call.
 */
void
data_feed_raw(struct smtp_tx *tx, const char *buf, size_t len)
{
	struct smtp_body_state	*bs = &tx->bs;
	size_t			 i;

	body_out(tx, buf, len);
	if (memchr(buf, '\0', len) != NULL)
		bs->errors |= DATA_NUL;
	if (bs->errors & DATA_BARE)
		return;
	for (i = 0; i < len; i++) {
		switch (buf[i]) {
		case '\r':
			if (bs->state == DS_CR)
				bs->errors |= DATA_BARE;
			bs->state = DS_CR;
			break;
		case '\n':
			if (bs->state != DS_CR)
				bs->errors |= DATA_BARE;
			bs->state = DS_BOL;
			break;
		default:
			if (bs->state == DS_CR)
				bs->errors |= DATA_BARE;
			bs->state = DS_TEXT;
			break;
		}
	}
}

/*
 * After the LAST chunk.  A last line without its CRLF gets one, so the
 * stored message always ends where DATA would make it end.
 */
void
data_end_raw(struct smtp_tx *tx)
{
	struct smtp_body_state	*bs = &tx->bs;

	if (bs->state == DS_CR)
		bs->errors |= DATA_BARE;
	else if (bs->state == DS_TEXT) {
		if (tx->check != NULL && bs->errors == 0)
			check_body(tx->check, "\r\n", 2);
		if (bs->in_header)
			header_out(tx, "\r\n", 2);
		else
			body_put(bs, "\r\n", 2);
	}
}

/* Flush and close the spool file: 0 if the body is good. */
int
data_finish(struct smtp_tx *tx)
{
	struct smtp_body_state	*bs = &tx->bs;

	if (bs->fd != -1 && bs->field != NULL)
		header_flush(tx);
	if (bs->fd != -1 && bs->errors == 0)
		body_flush(bs);
	if (bs->fd != -1 && close(bs->fd) == -1 && bs->errors == 0) {
		bs->errors |= DATA_WERR;
		bs->werrno = errno;
	}
	bs->fd = -1;
	free(bs->wbuf);
	bs->wbuf = NULL;
	bs->wlen = 0;
	free(bs->field);
	bs->field = NULL;
	return bs->errors == 0 ? 0 : -1;
}

void
data_abort(struct smtp_tx *tx)
{
	struct smtp_body_state	*bs = &tx->bs;

	if (bs->fd != -1)
		close(bs->fd);
	bs->fd = -1;
	free(bs->wbuf);
	bs->wbuf = NULL;
	bs->wlen = 0;
	free(bs->field);
	bs->field = NULL;
}
