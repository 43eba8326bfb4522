/*
 * test_imap_parse: the IMAP command reader and parser (imapd/
 * imap_reader.c, imap_parse.c, imap_seqset.c, imap_utf7.c): every
 * command with good and bad arguments, literals and their limits,
 * nesting limits, sequence sets and the mailbox name codings.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../imapd/imap_parse.h"

static struct imap_limits	lim = {
	.line_max = 8192, .literal_max = 1 << 20, .command_max = 4 << 20,
	.depth_max = 8, .args_max = 200, .literal_plus = 1,
};

static struct imap_cmd	cmd;
static const char	*err;

/* Parse s (CRLF added); 0 or -1 as imap_parse_command. */
static int
parsen(const char *s, size_t n)
{
	static char	 buf[16384];

	imap_cmd_free(&cmd);
	memcpy(buf, s, n);
	memcpy(buf + n, "\r\n", 2);
	err = NULL;
	return imap_parse_command(buf, n + 2, &lim, &cmd, &err);
}

static int
str_is(const struct imap_str *s, const char *want)
{
	return !s->nil && s->len == strlen(want) &&
	    memcmp(s->s, want, s->len) == 0;
}

static int
parse(const char *s)
{
	return parsen(s, strlen(s));
}

/* For string constants with a NUL inside. */
#define GOODL(s) CHECKF(parsen((s), sizeof(s) - 1) == 0, "%s: %s", (s), \
	    err ? err : "")
#define BADL(s, why) CHECKF(parsen((s), sizeof(s) - 1) == -1 && \
	    err != NULL && strstr(err, (why)) != NULL, "%s: got %s", (s), \
	    err ? err : "ok")
#define GOOD(s) CHECKF(parse(s) == 0, "%s: %s", (s), err ? err : "")
#define BAD(s, why) CHECKF(parse(s) == -1 && err != NULL && \
	    strstr(err, (why)) != NULL, "%s: got %s", (s), err ? err : "ok")

static void
test_simple(void)
{
	static const struct { const char *s; enum imap_verb v; } plain[] = {
		{ "a CAPABILITY", IC_CAPABILITY }, { "a noop", IC_NOOP },
		{ "a LOGOUT", IC_LOGOUT }, { "a STARTTLS", IC_STARTTLS },
		{ "a NAMESPACE", IC_NAMESPACE }, { "a IDLE", IC_IDLE },
		{ "a CHECK", IC_CHECK }, { "a CLOSE", IC_CLOSE },
		{ "a UNSELECT", IC_UNSELECT }, { "a EXPUNGE", IC_EXPUNGE },
	};
	size_t	 i;

	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		GOOD(plain[i].s);
		CHECK(cmd.verb == plain[i].v && strcmp(cmd.tag, "a") == 0);
	}
	BAD("a NOOP x", "Extra");
	BAD("a CAPABILITY IMAP4rev2", "Extra");
	BAD("a LOGOUT now", "Extra");
	BAD("a STARTTLS x", "Extra");
	BAD("a NAMESPACE x", "Extra");
	BAD("a IDLE x", "Extra");
	BAD("a CHECK x", "Extra");
	BAD("a CLOSE x", "Extra");
	BAD("a UNSELECT x", "Extra");
	BAD("a DONE", "Unknown command");
	BAD("a NOOP ", "Extra spaces");
	BAD("a FOO", "Unknown command");
	BAD("a UID NOOP", "Unknown UID command");
	BAD("a+b NOOP", "Invalid tag");
	BAD("NOOP", "Missing command");
	BAD("* NOOP", "Invalid tag");
	BAD("a  NOOP", "Unknown command");
	GOOD("A1.2_x] NOOP");
	CHECK(strcmp(cmd.tag, "A1.2_x]") == 0);
	CHECK(parse("") == -1);
	CHECK(imap_is_done("done\r\n", 6) && !imap_is_done("DONE x", 6));
}

static void
test_login_auth(void)
{
	GOOD("a LOGIN joe \"se\\\"cr\\\\et\"");
	CHECK(cmd.verb == IC_LOGIN && str_is(&cmd.u.login.user, "joe") &&
	    str_is(&cmd.u.login.pass, "se\"cr\\et"));
	GOOD("a LOGIN {3}\r\njoe {4+}\r\np w ");
	CHECK(str_is(&cmd.u.login.user, "joe") &&
	    str_is(&cmd.u.login.pass, "p w ") && cmd.u.login.pass.literal);
	BAD("a LOGIN joe", "space");
	BAD("a LOGIN \"joe pass", "Unterminated");
	BAD("a LOGIN \"j\\oe\" x", "escape");
	BAD("a LOGIN joe {9}\r\nx", "Literal shorter");
	BADL("a LOGIN {3}\r\nj\0e x", "NUL");
	BAD("a LOGIN ~{3}\r\njoe x", "literal8");
	GOOD("a AUTHENTICATE PLAIN");
	CHECK(str_is(&cmd.u.auth.mech, "PLAIN") && cmd.u.auth.initial.nil);
	GOOD("a AUTHENTICATE PLAIN AGpvZQBwdw==");
	CHECK(str_is(&cmd.u.auth.initial, "AGpvZQBwdw=="));
	GOOD("a AUTHENTICATE PLAIN =");
	CHECK(str_is(&cmd.u.auth.initial, "="));
	BAD("a AUTHENTICATE PLAIN AGpvZ", "base64");
	BAD("a AUTHENTICATE", "space");
	GOOD("a ENABLE IMAP4rev2 UTF8=ACCEPT");
	CHECK(cmd.u.enable.n == 2 && str_is(&cmd.u.enable.v[1],
	    "UTF8=ACCEPT"));
	BAD("a ENABLE", "space");
	BAD("a ENABLE (x)", "atom");
	BAD("a COMPRESS", "space");
	BAD("a COMPRESS DEFLATE x", "Extra");
	GOOD("a COMPRESS DEFLATE");
	CHECK(str_is(&cmd.u.compress, "DEFLATE"));
	GOOD("a ID NIL");
	CHECK(cmd.u.id.n == 0);
	GOOD("a ID (\"name\" \"mutt\" \"version\" NIL)");
	CHECK(cmd.u.id.n == 4 && str_is(&cmd.u.id.v[1], "mutt") &&
	    cmd.u.id.v[3].nil);
	BAD("a ID (\"name\")", "space");
	BAD("a ID ()", "string");
	BAD("a ID (\"0123456789012345678901234567890\" NIL)", "too long");
}

static void
test_mailboxes(void)
{
	GOOD("a SELECT INBOX");
	CHECK(cmd.verb == IC_SELECT &&
	    imap_str_is_inbox(&cmd.u.select.mailbox));
	GOOD("a EXAMINE \"Sent Items\" (CONDSTORE)");
	CHECK(cmd.verb == IC_EXAMINE && cmd.u.select.condstore &&
	    str_is(&cmd.u.select.mailbox, "Sent Items"));
	GOOD("a SELECT x (QRESYNC (67890007 20050715194045000 "
	    "41,43:211,214:541))");
	CHECK(cmd.u.select.qresync && cmd.u.select.uidvalidity == 67890007 &&
	    cmd.u.select.modseq == 20050715194045000ULL &&
	    cmd.u.select.known_uids.n == 3 &&
	    cmd.u.select.seq_match.n == 0);
	GOOD("a SELECT x (QRESYNC (1 2 1:5 (1,3 10,30)) CONDSTORE)");
	CHECK(cmd.u.select.seq_match.n == 2 && cmd.u.select.uid_match.n == 2 &&
	    cmd.u.select.condstore);
	GOOD("a SELECT x (QRESYNC (1 2 (1 10)))");
	CHECK(cmd.u.select.known_uids.n == 0 && cmd.u.select.seq_match.n == 1);
	BAD("a SELECT x (QRESYNC (0 2))", "nonzero");
	BAD("a SELECT x (FOO)", "Unknown SELECT");
	BAD("a SELECT", "space");
	BAD("a SELECT x (CONDSTORE", "')'");
	GOOD("a CREATE Foo/Bar");
	GOOD("a CREATE Trash (USE (\\Trash))");
	CHECK(cmd.u.create.use.n == 1 &&
	    str_is(&cmd.u.create.use.v[0], "\\Trash"));
	BAD("a CREATE x (FOO (\\Trash))", "Unknown CREATE");
	GOOD("a DELETE x");
	GOOD("a SUBSCRIBE x");
	GOOD("a UNSUBSCRIBE \"x y\"");
	CHECK(cmd.verb == IC_UNSUBSCRIBE && str_is(&cmd.u.mailbox, "x y"));
	GOOD("a RENAME a b");
	CHECK(str_is(&cmd.u.rename.from, "a") && str_is(&cmd.u.rename.to, "b"));
	BAD("a RENAME a", "space");
	BAD("a DELETE (x)", "atom");
	GOOD("a LIST \"\" *");
	CHECK(!cmd.u.list.extended && cmd.u.list.patterns.n == 1 &&
	    str_is(&cmd.u.list.patterns.v[0], "*"));
	GOOD("a LIST \"\" %/a]");
	GOOD("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Sent\" %) "
	    "RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))");
	CHECK(cmd.u.list.extended && cmd.u.list.sel == (LSEL_SUBSCRIBED |
	    LSEL_RECURSIVEMATCH) && cmd.u.list.patterns.n == 3 &&
	    cmd.u.list.ret == (LRET_CHILDREN | LRET_SPECIAL_USE |
	    LRET_STATUS) && cmd.u.list.status == (ST_MESSAGES | ST_UNSEEN |
	    ST_SIZE));
	GOOD("a LIST () \"\" x RETURN ()");
	BAD("a LIST (RECURSIVEMATCH) \"\" *", "RECURSIVEMATCH");
	BAD("a LIST (FOO) \"\" *", "selection");
	BAD("a LIST \"\" * RETURN (FOO)", "return option");
	BAD("a LIST \"\" * FOO", "RETURN");
	BAD("a LIST \"\"", "space");
	GOOD("a LSUB \"\" *");
	CHECK(cmd.verb == IC_LSUB);
	GOOD("a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED "
	    "SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)");
	CHECK(cmd.u.status.items == 511);
	GOOD("a STATUS x (DELETED DELETED-STORAGE)");
	CHECK(cmd.u.status.items == (ST_DELETED | ST_DELETED_STORAGE));
	BAD("a STATUS x (DELETED-STORAGEX)", "Unknown STATUS");
	BAD("a STATUS INBOX ()", "Unknown STATUS");
	BAD("a STATUS INBOX (FOO)", "Unknown STATUS");
	BAD("a STATUS INBOX MESSAGES", "'('");
	GOOD("a GETQUOTA \"\"");
	CHECK(str_is(&cmd.u.quotaroot, ""));
	GOOD("a GETQUOTAROOT INBOX");
	CHECK(cmd.verb == IC_GETQUOTAROOT && imap_str_is_inbox(&cmd.u.mailbox));
	BAD("a GETQUOTAROOT", "space");
	BAD("a GETQUOTA", "space");
	BAD("a SETQUOTA \"\"", "space");
	BAD("a SETQUOTA \"\" (STORAGE 1", "')'");
	GOOD("a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)");
	CHECK(cmd.u.setquota.nres == 2 && cmd.u.setquota.res[1].limit == 1000 &&
	    str_is(&cmd.u.setquota.res[0].name, "STORAGE"));
	GOOD("a SETQUOTA \"\" ()");
	BAD("a SETQUOTA \"\" (STORAGE)", "space");
	BAD("a SETQUOTA \"\" (STORAGE 99999999999999999999)", "too big");
}

static void
test_append(void)
{
	struct imap_append_msg	*m;

	GOOD("a APPEND INBOX {5}\r\nHello");
	CHECK(cmd.u.append.nmsg == 1 && str_is(&cmd.u.append.msg[0].data,
	    "Hello") && !cmd.u.append.msg[0].has_flags);
	GOOD("a APPEND INBOX (\\Seen $Junk) \" 7-Feb-1994 21:52:25 -0800\" "
	    "{3+}\r\nabc");
	m = &cmd.u.append.msg[0];
	CHECK(m->has_flags && m->flags.n == 2 && str_is(&m->flags.v[1],
	    "$Junk") && m->has_date && m->tzoff == -480 &&
	    m->date == 760686745);
	GOODL("a APPEND x {1}\r\na (\\Draft) {1}\r\nb \"01-Jan-2020 00:00:00 "
	    "+0000\" ~{2}\r\n\0c UTF8 (~{1}\r\nd)");
	CHECK(cmd.u.append.nmsg == 4);
	CHECK(cmd.u.append.nmsg == 4 && cmd.u.append.msg[2].data.literal == 2 &&
	    cmd.u.append.msg[3].utf8 && cmd.u.append.msg[2].date ==
	    1577836800);
	GOODL("a APPEND x {1}\r\n\0");
	BAD("a APPEND x", "space");
	BAD("a APPEND x \"abc\"", "date-time");
	BAD("a APPEND x abc", "literal");
	BAD("a APPEND x (\\Seen) \"31-Feb-2020 00:00:00 +0000\" {1}\r\na",
	    "date-time");
	BAD("a APPEND x UTF8 ({1}\r\na)", "literal8");
	BAD("a APPEND x (\\Seen {1}\r\na", "Invalid flag");
}

static void
test_search(void)
{
	struct imap_search_key	*k;

	GOOD("a SEARCH ALL");
	k = cmd.u.search.key;
	CHECK(k->type == SK_AND && k->child->type == SK_ALL &&
	    k->child->next == NULL && cmd.u.search.charset.nil &&
	    !cmd.u.search.esearch);
	GOOD("a SEARCH CHARSET UTF-8 FLAGGED SINCE 1-Feb-1994 NOT FROM "
	    "\"Smith\"");
	k = cmd.u.search.key->child;
	CHECK(str_is(&cmd.u.search.charset, "UTF-8") &&
	    k->type == SK_FLAGGED && k->next->type == SK_SINCE &&
	    k->next->date.year == 1994 && k->next->date.mon == 2 &&
	    k->next->date.day == 1 && k->next->next->type == SK_NOT &&
	    k->next->next->child->type == SK_FROM &&
	    str_is(&k->next->next->child->str, "Smith"));
	GOOD("a UID SEARCH RETURN (MIN COUNT SAVE) OR (SEEN LARGER 100) "
	    "HEADER Message-ID <x@y> 1:5,*");
	CHECK(cmd.uid && cmd.u.search.esearch && cmd.u.search.ret ==
	    (SRET_MIN | SRET_COUNT | SRET_SAVE));
	k = cmd.u.search.key->child;
	CHECK(k->type == SK_OR && k->child->type == SK_AND &&
	    k->child->child->next->num == 100 && k->child->next->type ==
	    SK_HEADER && str_is(&k->child->next->value, "<x@y>") &&
	    k->next->type == SK_SEQSET && k->next->set.n == 2 &&
	    k->next->next == NULL);
	CHECK(k->child->next->next == NULL);
	GOOD("a SEARCH RETURN () $");
	CHECK(cmd.u.search.ret == SRET_ALL &&
	    cmd.u.search.key->child->set.saved);
	GOOD("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338");
	k = cmd.u.search.key->child;
	CHECK(k->type == SK_MODSEQ && k->num == 620162338 &&
	    str_is(&k->entry, "/flags/\\draft"));
	GOOD("a SEARCH MODSEQ 5 UID 1:* KEYWORD $Forwarded UNKEYWORD foo "
	    "SENTBEFORE \"1-Jan-2000\" ON 29-Feb-2000 TEXT {3}\r\nabc");
	GOOD("a SEARCH ANSWERED DELETED DRAFT NEW OLD RECENT SEEN UNANSWERED "
	    "UNDELETED UNDRAFT UNFLAGGED UNSEEN BCC a CC b TO c SUBJECT d "
	    "BODY e BEFORE 1-Jan-2000 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 "
	    "SMALLER 5 OLDER 10 YOUNGER 10");
	BAD("a SEARCH", "space");
	BAD("a SEARCH FOO", "Unknown search key");
	BAD("a SEARCH SINCE 30-Feb-2000", "Invalid date");
	BAD("a SEARCH SINCE 1-Foo-2000", "Invalid date");
	BAD("a SEARCH OR SEEN", "space");
	BAD("a SEARCH (SEEN", "')'");
	BAD("a SEARCH ()", "Unknown search key");
	BAD("a SEARCH RETURN (FOO) ALL", "return option");
	BAD("a SEARCH 0", "nonzero");
	BAD("a SEARCH LARGER x", "number");
	BAD("a SEARCH ((((((((SEEN))))))))", "nested");
	BAD("a SEARCH NOT NOT NOT NOT NOT NOT NOT NOT NOT SEEN", "nested");
	GOOD("a SEARCH NOT NOT NOT NOT NOT NOT SEEN");
	BAD("a SEARCH MODSEQ \"/x\" bogus 5", "entry type");
	GOOD("a SORT (REVERSE DATE SUBJECT) UTF-8 ALL");
	CHECK(cmd.u.sort.ncrit == 2 && cmd.u.sort.crit[0].reverse &&
	    cmd.u.sort.crit[0].key == SORT_DATE &&
	    cmd.u.sort.crit[1].key == SORT_SUBJECT &&
	    str_is(&cmd.u.sort.search.charset, "UTF-8"));
	GOOD("a UID SORT RETURN (COUNT) (ARRIVAL CC FROM SIZE TO DISPLAYFROM "
	    "DISPLAYTO) US-ASCII SEEN");
	BAD("a SORT (DATE) ALL", "space");
	BAD("a SORT (FOO) UTF-8 ALL", "sort criterion");
	BAD("a SORT () UTF-8 ALL", "sort criterion");
	GOOD("a THREAD REFERENCES UTF-8 SINCE 5-MAR-2000");
	CHECK(cmd.u.thread.alg == THREAD_REFERENCES);
	GOOD("a UID THREAD ORDEREDSUBJECT US-ASCII ALL");
	CHECK(cmd.u.thread.alg == THREAD_ORDEREDSUBJECT && cmd.uid);
	BAD("a THREAD FOO UTF-8 ALL", "THREAD algorithm");
	BAD("a THREAD REFERENCES ALL", "space");
	BAD("a THREAD", "space");
	BAD("a UID THREAD REFERENCES UTF-8", "space");
}

static void
test_fetch(void)
{
	struct imap_fetch_att	*a;

	GOOD("a FETCH 1:* FAST");
	CHECK(cmd.u.fetch.natt == 3 && cmd.u.fetch.att[2].item ==
	    FA_RFC822_SIZE);
	GOOD("a FETCH 1 ALL");
	CHECK(cmd.u.fetch.natt == 4);
	GOOD("a FETCH 1 FULL");
	CHECK(cmd.u.fetch.natt == 5 && cmd.u.fetch.att[4].item == FA_BODY);
	GOOD("a FETCH 2 body[]");
	CHECK(cmd.u.fetch.natt == 1 && cmd.u.fetch.att[0].item ==
	    FA_BODY_SECTION && cmd.u.fetch.att[0].sec.npart == 0 &&
	    cmd.u.fetch.att[0].sec.text == SEC_NONE);
	GOOD("a UID FETCH 1:5 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY "
	    "BODYSTRUCTURE UID RFC822 RFC822.HEADER RFC822.TEXT MODSEQ "
	    "BODY.PEEK[1.2.MIME] BODY[HEADER.FIELDS (From \"To\")]<0.100> "
	    "BODY[1.HEADER.FIELDS.NOT (Received)] BODY[3.TEXT] BINARY[1]<5.5> "
	    "BINARY.PEEK[] BINARY.SIZE[2.1] BODY[4.2.HEADER])");
	CHECK(cmd.uid && cmd.u.fetch.natt == 19);
	a = cmd.u.fetch.att;
	CHECK(a[0].item == FA_FLAGS && a[6].item == FA_UID &&
	    a[10].item == FA_MODSEQ);
	CHECK(a[11].item == FA_BODY_SECTION && a[11].peek &&
	    a[11].sec.npart == 2 && a[11].sec.part[1] == 2 &&
	    a[11].sec.text == SEC_MIME);
	CHECK(a[12].sec.text == SEC_HEADER_FIELDS && a[12].sec.fields.n == 2 &&
	    str_is(&a[12].sec.fields.v[1], "To") && a[12].partial &&
	    a[12].offset == 0 && a[12].count == 100 && !a[12].peek);
	CHECK(a[13].sec.text == SEC_HEADER_FIELDS_NOT && a[13].sec.npart == 1);
	CHECK(a[14].sec.text == SEC_TEXT && a[14].sec.part[0] == 3);
	CHECK(a[15].item == FA_BINARY && a[15].partial && a[15].offset == 5);
	CHECK(a[16].item == FA_BINARY && a[16].peek && a[16].sec.npart == 0);
	CHECK(a[17].item == FA_BINARY_SIZE && a[17].sec.npart == 2);
	CHECK(a[18].sec.text == SEC_HEADER && a[18].sec.npart == 2);
	GOOD("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
	CHECK(cmd.u.fetch.changedsince_set && cmd.u.fetch.changedsince ==
	    12345 && cmd.u.fetch.vanished);
	BAD("a FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)", "UID FETCH");
	BAD("a UID FETCH 1:* (FLAGS) (VANISHED)", "VANISHED without");
	BAD("a FETCH 1 (FLAGS) (FOO)", "modifier");
	BAD("a FETCH 1 FOO", "Unknown FETCH");
	BAD("a FETCH 1 (FLAGS FOO)", "Unknown FETCH");
	BAD("a FETCH 1 ()", "Unknown FETCH");
	BAD("a FETCH 1 BODY[MIME]", "Invalid section");
	BAD("a FETCH 1 BODY[1.]", "Invalid section");
	BAD("a FETCH 1 BODY[0]", "nonzero");
	BAD("a FETCH 1 BODY[1]<5>", "partial");
	BAD("a FETCH 1 BODY[1]<5.0>", "nonzero");
	BAD("a FETCH 1 BINARY[1.TEXT]", "BINARY section");
	BAD("a FETCH 1 BINARY.SIZE", "Unknown FETCH");
	BAD("a FETCH 1 BODY[HEADER.FIELDS ()]", "atom");
	BAD("a FETCH 1 BODY[HEADER.FIELDS]", "Invalid section");
	BAD("a FETCH 1 BODY[TEXT", "Invalid section");
	BAD("a FETCH 1 BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18."
	    "19.20.21.22.23.24.25.26.27.28.29.30.31.32.33]", "nested");
	BAD("a FETCH x FLAGS", "sequence");
	BAD("a FETCH 1:0 FLAGS", "nonzero");
	BAD("a FETCH 1, FLAGS", "sequence");
	BAD("a FETCH 4294967296 FLAGS", "too big");
	BAD("a FETCH 1", "space");
}

static void
test_store_copy(void)
{
	GOOD("a STORE 1:3 +FLAGS (\\Deleted)");
	CHECK(cmd.u.store.op == STORE_ADD && !cmd.u.store.silent &&
	    cmd.u.store.flags.n == 1);
	GOOD("a UID STORE 5 -FLAGS.SILENT \\Seen $Label1");
	CHECK(cmd.uid && cmd.u.store.op == STORE_REMOVE &&
	    cmd.u.store.silent && cmd.u.store.flags.n == 2);
	GOOD("a STORE 1 (UNCHANGEDSINCE 320162338) FLAGS ()");
	CHECK(cmd.u.store.unchangedsince_set && cmd.u.store.unchangedsince ==
	    320162338 && cmd.u.store.op == STORE_SET &&
	    cmd.u.store.flags.n == 0);
	BAD("a STORE 1 FLAGZ (\\Seen)", "FLAGS");
	BAD("a STORE 1 +FLAGS", "space");
	BAD("a STORE 1 +FLAGS (\\Seen", "')'");
	BAD("a STORE 1 (FOO 5) FLAGS ()", "STORE modifier");
	BAD("a STORE 1 FLAGS (a]b)", "Expected");
	BAD("a STORE 1 FLAGS (\\)", "Invalid flag");
	GOOD("a COPY 1:2 Trash");
	CHECK(cmd.verb == IC_COPY && str_is(&cmd.u.copy.mailbox, "Trash"));
	GOOD("a UID MOVE $ \"Junk\"");
	CHECK(cmd.verb == IC_MOVE && cmd.uid && cmd.u.copy.set.saved);
	BAD("a MOVE 1", "space");
	GOOD("a UID EXPUNGE 3000:3002");
	CHECK(cmd.verb == IC_EXPUNGE && cmd.uid && cmd.u.expunge.n == 1);
	BAD("a UID EXPUNGE", "space");
	BAD("a EXPUNGE 1", "Extra");
}

static void
test_seqset(void)
{
	struct imap_seqset	*s;

	GOOD("a FETCH 2,4:7,9,12:*,*:20 FLAGS");
	s = &cmd.u.fetch.set;
	CHECK(s->n == 5 && s->r[3].lo == 12 && s->r[3].hi == 0);
	CHECK(!imap_seqset_contains(s, 1, 30));
	CHECK(imap_seqset_contains(s, 2, 30));
	CHECK(!imap_seqset_contains(s, 3, 30));
	CHECK(imap_seqset_contains(s, 6, 30));
	CHECK(imap_seqset_contains(s, 25, 30));
	CHECK(!imap_seqset_contains(s, 31, 30));
	/* 2, 4..7, 9, 12..30 (and 20..30 again). */
	CHECK(imap_seqset_count(s, 30) == 1 + 4 + 1 + 19);
	/* With * = 10, 12:* is 10:12 and *:20 10:20: 2, 4..7, 9, 10. */
	CHECK(imap_seqset_count(s, 10) == 1 + 4 + 1 + 1);
	/* Every number a message: *:20 goes over 19 and 12:* over 11. */
	CHECK(imap_seqset_within(s, 20) && !imap_seqset_within(s, 19));
	CHECK(!imap_seqset_within(s, 11) && !imap_seqset_within(s, 0));
	GOOD("a FETCH 7:3,1:* FLAGS");
	s = &cmd.u.fetch.set;
	CHECK(imap_seqset_contains(s, 5, 9) && imap_seqset_count(s, 9) == 9);
	CHECK(imap_seqset_count(s, 0) == 0);
	GOOD("a FETCH * FLAGS");
	CHECK(imap_seqset_contains(&cmd.u.fetch.set, 4, 4) &&
	    !imap_seqset_contains(&cmd.u.fetch.set, 3, 4));
	/* "*" names the last message, so none in an empty mailbox. */
	CHECK(imap_seqset_within(&cmd.u.fetch.set, 1) &&
	    !imap_seqset_within(&cmd.u.fetch.set, 0));
	BAD("a FETCH 1:*:3 FLAGS", "sequence");
	BAD("a FETCH $,1 FLAGS", "space");
	BAD("a SEARCH KEYWORD \\Seen", "system flag");
	BAD("a SEARCH UNKEYWORD \\Deleted", "system flag");
}

/* A client's conversation through the reader, as a session drives it. */
static void
test_reader(void)
{
	struct imap_reader	 r;
	struct imap_limits	 small = lim;

	imap_reader_init(&r, &lim);
	CHECK(imap_reader_line(&r, "a LOGIN {3}\r\n", 13) == IMAP_READ_LITERAL);
	CHECK(r.lit_size == 3 && r.lit_sync);
	CHECK(imap_reader_literal(&r, "jo", 2) == IMAP_READ_LITERAL);
	CHECK(imap_reader_literal(&r, "e", 1) == IMAP_READ_LINE);
	CHECK(imap_reader_line(&r, " {2+}", 5) == IMAP_READ_LITERAL);
	CHECK(r.lit_size == 2 && !r.lit_sync);
	CHECK(imap_reader_literal(&r, "pw", 2) == IMAP_READ_LINE);
	CHECK(imap_reader_line(&r, "\r\n", 2) == IMAP_READ_DONE);
	CHECK(imap_parse_command(r.buf, r.len, &lim, &cmd, &err) == 0 &&
	    str_is(&cmd.u.login.user, "joe") &&
	    str_is(&cmd.u.login.pass, "pw"));
	imap_cmd_free(&cmd);
	CHECK(imap_reader_literal(&r, "x", 1) == IMAP_READ_ERROR);

	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "a APPEND x ~{0}", 15) ==
	    IMAP_READ_LITERAL && r.lit_size == 0);
	CHECK(imap_reader_literal(&r, NULL, 0) == IMAP_READ_LINE);
	CHECK(imap_reader_line(&r, "", 0) == IMAP_READ_DONE);
	CHECK(imap_parse_command(r.buf, r.len, &lim, &cmd, &err) == 0 &&
	    cmd.u.append.msg[0].data.len == 0);
	imap_cmd_free(&cmd);

	/* Over the limits. */
	small.literal_max = 10;
	small.line_max = 20;
	small.literal_plus = 0;
	imap_reader_free(&r);
	imap_reader_init(&r, &small);
	CHECK(imap_reader_line(&r, "a APPEND x {11}", 15) == IMAP_READ_ERROR &&
	    strstr(r.err, "too big") != NULL && !r.lit_skip);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "a APPEND x {11+}", 16) ==
	    IMAP_READ_ERROR && r.lit_skip);
	imap_reader_reset(&r);
	small.literal_max = 100000;
	imap_reader_free(&r);
	imap_reader_init(&r, &small);
	CHECK(imap_reader_line(&r, "a APPEND x {4097+}", 18) ==
	    IMAP_READ_ERROR && strstr(r.err, "LITERAL-") != NULL);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "a APPEND x {4096+}", 18) ==
	    IMAP_READ_LITERAL);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "a LOGIN aaaaaaaaaaaaaaaaaaaaaaa", 31) ==
	    IMAP_READ_ERROR && strstr(r.err, "too long") != NULL &&
	    strcmp(r.tag, "a") == 0);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "t7 x {99999999999}", 18) ==
	    IMAP_READ_ERROR && strcmp(r.tag, "t7") == 0);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "a\0b", 3) == IMAP_READ_ERROR &&
	    strcmp(r.tag, "*") == 0);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "n1 NOOP \0", 9) == IMAP_READ_ERROR &&
	    strcmp(r.tag, "n1") == 0);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "a*b NOOP \0", 10) == IMAP_READ_ERROR &&
	    strcmp(r.tag, "*") == 0);
	imap_reader_reset(&r);
	CHECK(imap_reader_line(&r, "a NOOP {x}", 10) == IMAP_READ_DONE);
	imap_reader_free(&r);

	/* The parser checks too, for callers that did not use the reader. */
	BAD("a LOGIN {1048577}\r\nx x", "too big");
	BAD("a NOOP\r\n", "Unexpected");
}

static void
test_limits(void)
{
	char	 buf[4096];
	int	 i;

	strlcpy(buf, "a STORE 1 FLAGS (", sizeof(buf));
	for (i = 0; i < 190; i++)
		strlcat(buf, "x ", sizeof(buf));
	strlcat(buf, "x)", sizeof(buf));
	GOOD(buf);
	strlcpy(buf, "a STORE 1 FLAGS (", sizeof(buf));
	for (i = 0; i < 300; i++)
		strlcat(buf, "x ", sizeof(buf));
	strlcat(buf, "x)", sizeof(buf));
	BAD(buf, "Too many arguments");
	BAD("a SELECT x (QRESYNC (1 2 (1 (2))))", "sequence");
	lim.depth_max = 1;
	BAD("a SELECT x (QRESYNC (1 2))", "nested");
	lim.depth_max = 8;
}

static int
utf7_dec(const char *in, const char *want)
{
	char	 out[256];

	if (imap_utf7_decode(in, strlen(in), out, sizeof(out)) == -1)
		return want == NULL;
	return want != NULL && strcmp(out, want) == 0;
}

static int
utf7_enc(const char *in, const char *want)
{
	char	 out[256];

	if (imap_utf7_encode(in, strlen(in), out, sizeof(out)) == -1)
		return want == NULL;
	return want != NULL && strcmp(out, want) == 0;
}

static void
test_utf7(void)
{
	char	 small[4];

	/* RFC 3501 5.1.3's examples. */
	CHECK(utf7_dec("~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	    "\xe8\xaa\x9e"));
	CHECK(utf7_enc("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5"
	    "\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"));
	CHECK(utf7_dec("&Jjo-!", "\xe2\x98\xba!"));
	CHECK(utf7_dec("&Jjo!", NULL));
	CHECK(utf7_dec("&U,BTFw-&ZeVnLIqe-", NULL));
	CHECK(utf7_dec("A&-B", "A&B") && utf7_enc("A&B", "A&-B"));
	CHECK(utf7_dec("Entw&APw-rfe", "Entw\xc3\xbcrfe"));
	CHECK(utf7_enc("Entw\xc3\xbcrfe", "Entw&APw-rfe"));
	CHECK(utf7_enc("\xf0\x9f\x98\x80", "&2D3eAA-"));
	CHECK(utf7_dec("&2D3eAA-", "\xf0\x9f\x98\x80"));
	CHECK(utf7_dec("&2D0-", NULL));		/* lone high surrogate */
	CHECK(utf7_dec("&AEE-", NULL));		/* "A" in base64 */
	CHECK(utf7_dec("&APx-", NULL));		/* leftover bits not zero */
	CHECK(utf7_dec("&APw", NULL));		/* unterminated */
	CHECK(utf7_dec("&-&APw-", "&\xc3\xbc"));
	CHECK(utf7_dec("a\xc3\xbc", NULL));	/* 8-bit in UTF-7 */
	CHECK(utf7_dec("&AAA-", NULL));		/* NUL */
	CHECK(utf7_enc("a\xc0\x80", NULL));	/* overlong */
	CHECK(utf7_enc("\xed\xa0\x80", NULL));	/* surrogate in UTF-8 */
	CHECK(imap_utf7_encode("abcd", 4, small, sizeof(small)) == -1);
	CHECK(imap_utf7_decode("abc", 3, small, sizeof(small)) == 0);
	CHECK(imap_utf8_valid("Entw\xc3\xbcrfe", 9));
	CHECK(!imap_utf8_valid("\xc3", 1));
	CHECK(!imap_utf8_valid("\xf4\x90\x80\x80", 4));
	CHECK(!imap_utf8_valid("a\0b", 3));
}

int
main(void)
{
	test_simple();
	test_login_auth();
	test_mailboxes();
	test_append();
	test_search();
	test_fetch();
	test_store_copy();
	test_seqset();
	test_reader();
	test_limits();
	test_utf7();
	imap_cmd_free(&cmd);
	return unit_done("test_imap_parse");
}
