/*
 * The mailbox tree: LIST and LSUB (RFC 9051 6.3.9, RFC 3501 6.3.9)
 * with CHILDREN and SPECIAL-USE attributes, STATUS (6.3.11), and
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE on folder.c and
 * subscriptions.c.  Names go over the wire as they are stored (Maildir++
 * folder names in modified UTF-7, as Dovecot keeps them).
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "subscriptions.h"
#include "imapd.h"

/* RFC 9051 6.3.9: "*" matches anything, "%" anything but the separator. */
static int
list_match(const char *pat, const char *name)
{
	for (; *pat != '\0'; pat++) {
		if (*pat == '*' || *pat == '%') {
			for (;;) {
				if (list_match(pat + 1, name))
					return 1;
				if (*name == '\0' ||
				    (*pat == '%' && *name == MAILBOX_SEP))
					return 0;
				name++;
			}
		}
		if (*pat != *name)
			return 0;
		name++;
	}
	return *name == '\0';
}

/* INBOX matches its pattern in any case. */
int
imap_list_matches(const char *pat, const char *name)
{
	if (strcmp(name, "INBOX") == 0 && strcasecmp(pat, "INBOX") == 0)
		return 1;
	return list_match(pat, name);
}

/* Whether name matches one of a LIST's patterns (after ref). */
int
imap_list_wanted(const struct imap_list *l, const char *name)
{
	char	 pat[MAILBOX_NAME_MAX * 2];
	int	 p;

	for (p = 0; p < l->patterns.n; p++) {
		/* An empty pattern asks for the delimiter, not names. */
		if (l->patterns.v[p].len == 0 ||
		    l->ref.len + l->patterns.v[p].len >= sizeof(pat))
			continue;
		memcpy(pat, l->ref.s, l->ref.len);
		memcpy(pat + l->ref.len, l->patterns.v[p].s,
		    l->patterns.v[p].len);
		pat[l->ref.len + l->patterns.v[p].len] = '\0';
		if (imap_list_matches(pat, name))
			return 1;
	}
	return 0;
}

/* The same for a storage name, written as the client writes names. */
int
imap_list_wants(const struct mail_session *s, const struct imap_list *l,
    const char *name)
{
	char	 wire[MAILBOX_NAME_MAX * 2];

	if (imap_name_wire(s, name, wire, sizeof(wire)) == -1)
		return 0;
	return imap_list_wanted(l, wire);
}

/*
 * A parent level that exists only through its children is \Noselect
 * to IMAP4rev1, \NonExistent to IMAP4rev2 (RFC 9051 7.3.1: it implies
 * \Noselect and is what LIST must say of a name with no mailbox).
 */
static void
list_attrs(FILE *f, const struct folder *fo, int lsub, int rev2)
{
	int	 bit, sp = 0;

	fputc('(', f);
	if (!fo->exists) {
		fputs(rev2 && !lsub ? "\\NonExistent" : "\\Noselect", f);
		sp = 1;
	}
	if (!lsub) {
		fprintf(f, "%s%s", sp++ ? " " : "", fo->children ?
		    "\\HasChildren" : "\\HasNoChildren");
		for (bit = 1; bit <= MBOX_SPECIAL_ALL; bit <<= 1)
			if (fo->special & bit)
				fprintf(f, " %s", folder_special_name(bit));
	}
	fputc(')', f);
}

void
imap_cmd_list(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_list	*l = &cmd->u.list;
	struct folder_list	 fl;
	size_t			 i;
	int			 lsub = cmd->verb == IC_LSUB;

	if (l->extended) {
		imap_list_ext(s, cmd);
		return;
	}
	/* An empty pattern asks for the hierarchy separator. */
	if (l->patterns.n == 1 && l->patterns.v[0].len == 0) {
		fprintf(s->io.out, "* %s (\\Noselect) \".\" \"\"\r\n",
		    lsub ? "LSUB" : "LIST");
		imap_tagged(s, cmd, "OK", "%s completed", lsub ? "LSUB" :
		    "LIST");
		return;
	}
	if (lsub) {
		imap_cmd_lsub(s, cmd);
		return;
	}
	if (folder_list(s->root, &fl) == -1) {
		log_warn("%s: folder list", s->user);
		imap_tagged(s, cmd, "NO", "[UNAVAILABLE] Cannot list");
		return;
	}
	for (i = 0; i < fl.n; i++) {
		if (!imap_list_wants(s, l, fl.f[i].name))
			continue;
		fprintf(s->io.out, "* %s ", lsub ? "LSUB" : "LIST");
		list_attrs(s->io.out, &fl.f[i], lsub, MAIL_REV2(s));
		fputs(" \".\" ", s->io.out);
		imap_name_out(s, s->io.out, fl.f[i].name);
		fputs("\r\n", s->io.out);
	}
	folder_list_free(&fl);
	imap_tagged(s, cmd, "OK", "%s completed", lsub ? "LSUB" : "LIST");
}

/*
 * The STATUS response of one mailbox: 0, or -1 with *why the NO text
 * (STATUS answers it tagged; LIST-STATUS leaves the mailbox out).
 */
int
imap_status_write(struct mail_session *s, const char *name,
    unsigned int items, const char **why)
{
	struct mailbox	*mb;
	uint32_t	 unseen = 0, deleted = 0;
	uint64_t	 size = 0, dsize = 0, hms = 0;
	size_t		 i, sz;
	int		 sp = 0;

	if (mailbox_open(s->root, name, 1, &mb) == -1) {
		*why = "[NONEXISTENT] No such mailbox";
		return -1;
	}
	if (mailbox_sync(mb, NULL) == -1) {
		mailbox_close(mb);
		*why = "[UNAVAILABLE] Cannot read the mailbox";
		return -1;
	}
	for (i = 0; i < mb->nmsg; i++) {
		/* SIZE: RFC822.SIZE (W=); DELETED-STORAGE: the disk (S=). */
		if (maildir_name_size(mb->msg[i].name, 'W', &sz) == 0 ||
		    maildir_name_size(mb->msg[i].name, 'S', &sz) == 0)
			size += sz;
		if (maildir_name_size(mb->msg[i].name, 'S', &sz) != 0)
			sz = 0;
		if (!(mb->msg[i].flags.std & MAILDIR_FLAG_SEEN))
			unseen++;
		if (mb->msg[i].flags.std & MAILDIR_FLAG_TRASHED) {
			deleted++;
			dsize += sz;
		}
	}
	/* IMAP4rev2 has no RECENT (RFC 9051 E): the item is left out. */
	if (MAIL_REV2(s))
		items &= ~ST_RECENT;
	if ((items & ST_HIGHESTMODSEQ) && imap_modseq_status(mb, &hms) == -1) {
		log_warn("%s: index of %s", s->user, name);
		hms = 0;	/* RFC 7162 3.1.2.2: no persistent modseqs */
	}
	fputs("* STATUS ", s->io.out);
	imap_name_out(s, s->io.out, name);
	fputs(" (", s->io.out);
#define ITEM(bit, fmt, v) do {						\
	if (items & (bit))						\
		fprintf(s->io.out, "%s" fmt, sp++ ? " " : "", v);	\
} while (0)
	ITEM(ST_MESSAGES, "MESSAGES %zu", mb->nmsg);
	ITEM(ST_UIDNEXT, "UIDNEXT %u", mb->ul.nextuid);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %u", mb->ul.uidvalidity);
	ITEM(ST_UNSEEN, "UNSEEN %u", unseen);
	ITEM(ST_DELETED, "DELETED %u", deleted);
	ITEM(ST_SIZE, "SIZE %llu", (unsigned long long)size);
	ITEM(ST_RECENT, "RECENT %u", 0U);
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu", (unsigned long long)hms);
	/* RFC 9208 4.2: in KiB like STORAGE, rounded up the same way. */
	ITEM(ST_DELETED_STORAGE, "DELETED-STORAGE %llu",
	    (unsigned long long)(dsize + 1023) / 1024);
#undef ITEM
	fputs(")\r\n", s->io.out);
	mailbox_close(mb);
	return 0;
}

void
imap_cmd_status(struct mail_session *s, struct imap_cmd *cmd)
{
	char		 name[MAILBOX_NAME_MAX];
	const char	*why;

	if (imap_name_in(s, &cmd->u.status.mailbox, name,
	    sizeof(name)) == -1) {
		imap_name_refused(s, cmd, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (imap_status_write(s, name, cmd->u.status.items, &why) == -1) {
		imap_tagged(s, cmd, "NO", "%s", why);
		return;
	}
	imap_tagged(s, cmd, "OK", "STATUS completed");
}

/* CREATE's USE (RFC 6154 5.1): the bits, or -1 for one not kept. */
static int
create_use_bits(const struct imap_strlist *use)
{
	char	 attr[32];
	int	 i, bit, bits = 0;

	for (i = 0; i < use->n; i++) {
		if (use->v[i].len >= sizeof(attr))
			return -1;
		memcpy(attr, use->v[i].s, use->v[i].len);
		attr[use->v[i].len] = '\0';
		if ((bit = folder_special_attr(attr)) == 0)
			return -1;
		bits |= bit;
	}
	return bits;
}

/*
 * Names are stored as the client sends them, in modified UTF-7 as
 * Dovecot keeps them: one that is not (8-bit bytes, a broken "&"
 * run) is refused, as Dovecot refuses it, rather than made a folder
 * that Dovecot cannot name.
 */
static int
name_is_utf7(const char *name)
{
	char	 utf8[MAILBOX_NAME_MAX * 2];

	return imap_utf7_decode(name, strlen(name), utf8, sizeof(utf8)) ==
	    0;
}

void
imap_cmd_folder(struct mail_session *s, struct imap_cmd *cmd)
{
	char		 name[MAILBOX_NAME_MAX], to[MAILBOX_NAME_MAX];
	const char	*verb = imap_verb_name(cmd->verb);
	int		 r, use = 0;

	if (imap_name_in(s, cmd->verb == IC_CREATE ?
	    &cmd->u.create.mailbox : cmd->verb == IC_RENAME ?
	    &cmd->u.rename.from : &cmd->u.mailbox, name,
	    sizeof(name)) == -1) {
		imap_name_refused(s, cmd, "[CANNOT] Bad mailbox name");
		return;
	}
	/* A trailing separator only says "a parent" (RFC 9051 6.3.4). */
	if (cmd->verb == IC_CREATE && name[strlen(name) - 1] == MAILBOX_SEP)
		name[strlen(name) - 1] = '\0';
	if (cmd->verb == IC_CREATE &&
	    (use = create_use_bits(&cmd->u.create.use)) == -1) {
		imap_tagged(s, cmd, "NO", "[USEATTR] Cannot keep that "
		    "special use");
		return;
	}
	if (cmd->verb == IC_CREATE && !name_is_utf7(name)) {
		imap_tagged(s, cmd, "NO", "[CANNOT] Mailbox name is not "
		    "valid modified UTF-7");
		return;
	}
	switch (cmd->verb) {
	case IC_CREATE:
		/* INBOX always exists (RFC 9051 6.3.4). */
		errno = EEXIST;
		r = strcmp(name, "INBOX") == 0 ? -1 :
		    folder_create(s->root, name);
		if (r == 0 && use != 0 &&
		    special_use_set(s->root, name, use) == -1) {
			log_warn("%s: special use of %s", s->user, name);
			(void)folder_delete(s->root, name);
			imap_tagged(s, cmd, "NO", "[USEATTR] Cannot keep the "
			    "special use");
			return;
		}
		break;
	case IC_DELETE:
		errno = EPERM;
		r = strcmp(name, "INBOX") == 0 ? -1 :
		    folder_delete(s->root, name);
		if (r == 0 && special_use_move(s->root, name, NULL) == -1)
			log_warn("%s: special use of %s", s->user, name);
		break;
	case IC_RENAME:
		if (imap_name_in(s, &cmd->u.rename.to, to, sizeof(to)) ==
		    -1 || strcmp(name, "INBOX") == 0) {
			imap_name_refused(s, cmd, "[CANNOT] Cannot rename "
			    "that");
			return;
		}
		if (!name_is_utf7(to)) {
			imap_tagged(s, cmd, "NO", "[CANNOT] Mailbox name is "
			    "not valid modified UTF-7");
			return;
		}
		errno = EEXIST;		/* INBOX is always there */
		r = strcmp(to, "INBOX") == 0 ? -1 :
		    folder_rename(s->root, name, to);
		if (r == 0 && special_use_move(s->root, name, to) == -1)
			log_warn("%s: special use of %s", s->user, name);
		break;
	case IC_SUBSCRIBE:
	case IC_UNSUBSCRIBE:
		r = subs_update(s->root, name, cmd->verb == IC_SUBSCRIBE);
		break;
	default:
		r = -1;
		break;
	}
	if (r == -1) {
		imap_tagged(s, cmd, "NO", "%s%s failed: %s",
		    errno == EEXIST ? "[ALREADYEXISTS] " :
		    errno == ENOENT ? "[NONEXISTENT] " : "[CANNOT] ", verb,
		    strerror(errno));
		return;
	}
	imap_tagged(s, cmd, "OK", "%s completed", verb);
}
