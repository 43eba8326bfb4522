/*
 * imap_msgkey: the keys SORT and THREAD compare, read once per message
 * from its header (only the header is read: sorting a mailbox of big
 * attachments must not read them): base subject, sent date, the first
 * addresses of From, To and Cc, and for THREAD=REFERENCES the
 * Message-ID and References (or In-Reply-To) ids.  Strings are
 * casemapped here (imap_casemap.c), so that comparing them is strcmp().
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "mime.h"
#include "imapd.h"
#include "imap_sortkey.h"

#define MSGKEY_HEADER_MAX	(1024 * 1024)	/* header bytes read */
#define MSGKEY_REFS_MAX		256		/* References kept */

/* The header of a message: up to its blank line, bounded. */
static char *
msgkey_read_header(int fd, size_t *lenp)
{
	char	*buf;
	size_t	 len = 0, size = 8192;
	ssize_t	 n;

	if ((buf = malloc(size)) == NULL)
		fatal("%s", __func__);
	for (;;) {
		if (len == size) {
			if (size >= MSGKEY_HEADER_MAX)
				break;
			size *= 2;
			if ((buf = realloc(buf, size)) == NULL)
				fatal("%s", __func__);
		}
		if ((n = read(fd, buf + len, size - len)) <= 0)
			break;
		len += n;
		if (memmem(buf, len, "\n\n", 2) != NULL ||
		    memmem(buf, len, "\n\r\n", 3) != NULL)
			break;
	}
	*lenp = len;
	return buf;
}

/* RFC822.SIZE without a W= in the name: every bare LF counts as two. */
static uint64_t
msgkey_vsize(int fd)
{
	char		 buf[8192];
	uint64_t	 size = 0;
	ssize_t		 n, i;
	char		 prev = '\0';

	if (lseek(fd, 0, SEEK_SET) == -1)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				size++;
			prev = buf[i];
		}
		size += n;
	}
	return size;
}

/* A string casemapped for comparison: never NULL. */
static char *
msgkey_fold(const char *s)
{
	char	*f;

	if ((f = imap_casemap(s, strlen(s))) == NULL)
		fatal("%s", __func__);
	return f;
}

static void
msgkey_addr(const struct mime_msg *mm, const char *field, char **mbox,
    char **display)
{
	struct mime_addr	*a;
	char			*dec, *spec;

	if ((a = malloc(sizeof(*a))) == NULL)
		fatal("%s", __func__);
	if (mime_first_addr(mm, mm->root, field, a) == -1)
		memset(a, 0, sizeof(*a));
	*mbox = msgkey_fold(a->local);
	if (display == NULL) {
		free(a);
		return;
	}
	/* RFC 5957: the display-name, else the addr-spec. */
	if (a->name[0] != '\0') {
		if ((dec = mime_decode_header(a->name, strlen(a->name))) ==
		    NULL)
			fatal("%s", __func__);
		*display = msgkey_fold(dec);
		free(dec);
	} else {
		if (asprintf(&spec, "%s%s%s", a->local,
		    a->domain[0] != '\0' ? "@" : "", a->domain) == -1)
			fatal("%s", __func__);
		*display = msgkey_fold(spec);
		free(spec);
	}
	free(a);
}

/* The next "<id>" of a field value: the id (new string) or NULL. */
static char *
msgkey_next_id(const char **pp)
{
	const char	*p = *pp, *b, *e;

	for (;;) {
		if ((b = strchr(p, '<')) == NULL ||
		    (e = strchr(b + 1, '>')) == NULL) {
			*pp = p + strlen(p);
			return NULL;
		}
		*pp = p = e + 1;
		/* An id with blanks in it or empty is no id (RFC 5322). */
		if (e > b + 1 && strcspn(b + 1, " \t<") >= (size_t)(e - b - 1))
			break;
	}
	if ((b = strndup(b + 1, e - b - 1)) == NULL)
		fatal("%s", __func__);
	return (char *)b;
}

static void
msgkey_refs(const struct mime_msg *mm, struct imap_msgkey *k)
{
	const char	*p;
	char		*v, *id;

	if (mime_header_get(mm, &mm->root->header, "Message-ID", &v,
	    NULL) == 0) {
		p = v;
		k->msgid = msgkey_next_id(&p);
		free(v);
	}
	if (mime_header_get(mm, &mm->root->header, "References", &v,
	    NULL) == 0) {
		p = v;
		while ((id = msgkey_next_id(&p)) != NULL) {
			if (k->nrefs == MSGKEY_REFS_MAX) {
				/* The nearest ancestors matter most. */
				free(k->refs[0]);
				memmove(k->refs, k->refs + 1,
				    (k->nrefs - 1) * sizeof(*k->refs));
				k->nrefs--;
			}
			if ((k->refs = reallocarray(k->refs, k->nrefs + 1,
			    sizeof(*k->refs))) == NULL)
				fatal("%s", __func__);
			k->refs[k->nrefs++] = id;
		}
		free(v);
	}
	if (k->nrefs == 0 && mime_header_get(mm, &mm->root->header,
	    "In-Reply-To", &v, NULL) == 0) {
		p = v;
		if ((id = msgkey_next_id(&p)) != NULL) {
			if ((k->refs = malloc(sizeof(*k->refs))) == NULL)
				fatal("%s", __func__);
			k->refs[k->nrefs++] = id;
		}
		free(v);
	}
}

static void
msgkey_header(const struct mime_msg *mm, struct imap_msgkey *k, int thread)
{
	char	*v;
	int	 ymd;

	if (mime_header_get(mm, &mm->root->header, "Subject", &v,
	    NULL) == 0) {
		if ((k->subject = imap_basesubj(v, strlen(v), &k->refwd)) ==
		    NULL)
			fatal("%s", __func__);
		free(v);
	}
	if (mime_header_get(mm, &mm->root->header, "Date", &v, NULL) == 0) {
		if (imap_msgdate(v, &k->sent, &ymd) == -1)
			k->sent = k->idate;
		free(v);
	}
	msgkey_addr(mm, "From", &k->from, &k->dfrom);
	msgkey_addr(mm, "To", &k->to, &k->dto);
	msgkey_addr(mm, "Cc", &k->cc, NULL);
	if (thread)
		msgkey_refs(mm, k);
}

static void
msgkey_load(struct mail_session *s, const struct mbox_msg *m,
    struct imap_msgkey *k, int thread)
{
	static const struct mime_limits lim = {
		.depth_max = MIME_DEPTH_MAX,
		.parts_max = MIME_PARTS_MAX,
	};
	struct stat	 st;
	struct mime_msg	*mm = NULL;
	char		*hdr = NULL;
	size_t		 len, size;
	int		 fd;

	if ((fd = openat(s->mb->md, m->name, O_RDONLY | O_CLOEXEC)) != -1) {
		if (fstat(fd, &st) == 0)
			k->idate = k->sent = st.st_mtime;
		hdr = msgkey_read_header(fd, &len);
		mm = mime_parse(hdr, len, &lim);
	}
	if (maildir_name_size(m->name, 'W', &size) == 0)
		k->size = size;
	else if (fd != -1)
		k->size = msgkey_vsize(fd);
	if (fd != -1)
		close(fd);
	if (mm != NULL)
		msgkey_header(mm, k, thread);
	if (mm != NULL)
		mime_free(mm);
	free(hdr);
}

/* What a message without the field compares as: "". */
static void
msgkey_defaults(struct imap_msgkey *k)
{
	char	**v[] = { &k->subject, &k->from, &k->to, &k->cc, &k->dfrom,
		    &k->dto };
	size_t	  i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (*v[i] == NULL && (*v[i] = strdup("")) == NULL)
			fatal("%s", __func__);
}

struct imap_msgkey *
imap_msgkeys_load(struct mail_session *s, const uint32_t *uids, size_t n,
    int thread)
{
	struct imap_msgkey	*keys;
	struct mbox_msg		*m;
	size_t			 i;

	if ((keys = calloc(n + 1, sizeof(*keys))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++) {
		keys[i].uid = uids[i];
		keys[i].seq = imap_seq_of(s, uids[i]);
		if ((m = mailbox_find(s->mb, uids[i])) != NULL)
			msgkey_load(s, m, &keys[i], thread);
		msgkey_defaults(&keys[i]);
	}
	return keys;
}

void
imap_msgkeys_free(struct imap_msgkey *keys, size_t n)
{
	size_t	 i;
	int	 j;

	for (i = 0; i < n; i++) {
		free(keys[i].subject);
		free(keys[i].from);
		free(keys[i].to);
		free(keys[i].cc);
		free(keys[i].dfrom);
		free(keys[i].dto);
		free(keys[i].msgid);
		for (j = 0; j < keys[i].nrefs; j++)
			free(keys[i].refs[j]);
		free(keys[i].refs);
	}
	free(keys);
}
