/*
 * Mailbox names in and out of a session: the one place where a name
 * on the wire becomes the name folder.c stores, and back.  Storage
 * names are modified UTF-7 (RFC 3501 5.1.3), the directory names
 * Dovecot gives Maildir++ folders, so both servers share a mail home.
 *
 * An IMAP4rev1 client speaks modified UTF-7 itself: its names pass
 * unchanged, as they always did.  After ENABLE IMAP4rev2 (RFC 9051
 * 5.1) or ENABLE UTF8=ACCEPT (RFC 6855 3) the wire carries UTF-8: a
 * name coming in must be valid UTF-8 (else BAD) without the control
 * characters and separators RFC 9051 5.1 excludes (else the command's
 * NO) and is encoded; a name going out is decoded.
 * A stored name that is not valid modified UTF-7 (a rev1 client may
 * have created one) goes out as stored when it is valid UTF-8; LIST
 * leaves it out otherwise.  Names are not normalized (to NFC or
 * otherwise): the server keeps the code points the client sent, so no
 * name changes under the client and no LIST OLDNAME is owed.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "imapd.h"

/* A storage name from the wire as it is: INBOX in any case. */
int
imap_mailbox_name(const struct imap_str *a, char *buf, size_t bufsz)
{
	if (a->nil || a->len == 0 || a->len >= bufsz ||
	    memchr(a->s, '\0', a->len) != NULL)
		return -1;
	if (imap_str_is_inbox(a)) {
		strlcpy(buf, "INBOX", bufsz);
		return 0;
	}
	memcpy(buf, a->s, a->len);
	buf[a->len] = '\0';
	/* No path tricks: names are folder names, never paths. */
	if (strchr(buf, '/') != NULL || strstr(buf, "..") != NULL ||
	    buf[0] == '.')
		return -1;
	return 0;
}

/*
 * RFC 9051 5.1: no C0 or C1 control, no DEL, no line or paragraph
 * separator (U+2028, U+2029) in a UTF-8 name.
 */
static int
name_has_control(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i;

	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return 1;
		/* U+0080..U+009F are C2 80..C2 9F. */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 &&
		    u[i + 1] <= 0x9f)
			return 1;
		if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
		    (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
			return 1;
	}
	return 0;
}

/*
 * The storage name of a mailbox argument: 0, or -1 with errno EILSEQ
 * for a UTF-8 session's name that is not UTF-8 (a BAD: RFC 6855 3),
 * EINVAL for a name that cannot be a folder.
 */
int
imap_name_in(struct mail_session *s, const struct imap_str *a, char *buf,
    size_t bufsz)
{
	char		 enc[MAILBOX_NAME_MAX * 2];
	struct imap_str	 e;

	if (!MAIL_UTF8_NAMES(s)) {
		errno = EINVAL;
		return imap_mailbox_name(a, buf, bufsz);
	}
	if (a->nil || !imap_utf8_valid(a->s, a->len)) {
		errno = a->nil ? EINVAL : EILSEQ;
		return -1;
	}
	errno = EINVAL;
	if (name_has_control(a->s, a->len) ||
	    imap_utf7_encode(a->s, a->len, enc, sizeof(enc)) == -1)
		return -1;
	e = *a;
	e.s = enc;
	e.len = strlen(enc);
	return imap_mailbox_name(&e, buf, bufsz);
}

/* The reply to a name imap_name_in() refused: BAD or the caller's NO. */
void
imap_name_refused(struct mail_session *s, const struct imap_cmd *cmd,
    const char *no)
{
	if (errno == EILSEQ)
		imap_tagged(s, cmd, "BAD", "Mailbox name is not valid UTF-8");
	else
		imap_tagged(s, cmd, "NO", "%s", no);
}

/* The wire form of a storage name into buf: 0, or -1 not sayable. */
int
imap_name_wire(const struct mail_session *s, const char *name, char *buf,
    size_t bufsz)
{
	size_t	 len = strlen(name);

	if (MAIL_UTF8_NAMES(s) &&
	    imap_utf7_decode(name, len, buf, bufsz) == 0)
		return 0;
	if (MAIL_UTF8_NAMES(s) && !imap_utf8_valid(name, len))
		return -1;
	if (len >= bufsz)
		return -1;
	memcpy(buf, name, len + 1);
	return 0;
}

/*
 * A mailbox name as a string: quoted UTF-8 for a UTF-8 session (RFC
 * 9051 quoted strings carry it, RFC 6855 3 allows it), a literal for
 * what quotes cannot carry (a rev1 client may have stored a CR or LF
 * through a literal), as imap_session.c's writers pick.
 */
void
imap_name_out(const struct mail_session *s, FILE *f, const char *name)
{
	char	 w[MAILBOX_NAME_MAX * 2];

	if (imap_name_wire(s, name, w, sizeof(w)) == -1)
		imap_quoted(f, name, strlen(name));
	else if (MAIL_UTF8_NAMES(s))
		imap_quoted_utf8(f, w, strlen(w));
	else
		imap_quoted(f, w, strlen(w));
}
