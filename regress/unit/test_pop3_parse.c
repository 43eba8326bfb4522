/*
 * test_pop3_parse: the POP3 command parser (imapd/pop3_parse.c): every
 * command with its arguments, and what is refused with which reason.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "../../imapd/pop3_parse.h"

static struct pop3_cmd	 cmd;
static const char	*err;
static char		 buf[1024];

static int
parse(const char *s)
{
	strlcpy(buf, s, sizeof(buf));
	err = NULL;
	return pop3_parse(buf, strlen(buf), &cmd, &err);
}

#define GOOD(s, v) CHECKF(parse(s) == 0 && cmd.verb == (v), "%s: %s", (s), \
	    err ? err : "wrong verb")
#define BAD(s, why) CHECKF(parse(s) == -1 && strstr(err, (why)) != NULL, \
	    "%s: got %s", (s), err ? err : "ok")

int
main(void)
{
	char	 longline[300];

	GOOD("USER joe@example.org\r\n", P3_USER);
	CHECK(strcmp(cmd.arg, "joe@example.org") == 0);
	GOOD("pass  secret with spaces \r\n", P3_PASS);
	CHECK(strcmp(cmd.arg, " secret with spaces") == 0);
	GOOD("STAT", P3_STAT);
	GOOD("LIST", P3_LIST);
	CHECK(!cmd.has_msg);
	GOOD("LIST 4294967295", P3_LIST);
	CHECK(cmd.has_msg && cmd.msg == 4294967295U);
	GOOD("UIDL 2\n", P3_UIDL);
	CHECK(cmd.has_msg && cmd.msg == 2);
	GOOD("RETR 1", P3_RETR);
	CHECK(cmd.msg == 1);
	GOOD("TOP 3 0", P3_TOP);
	CHECK(cmd.msg == 3 && cmd.lines == 0);
	GOOD("DELE 7", P3_DELE);
	GOOD("RSET", P3_RSET);
	GOOD("noop", P3_NOOP);
	GOOD("QUIT", P3_QUIT);
	GOOD("CAPA", P3_CAPA);
	GOOD("STLS", P3_STLS);
	GOOD("AUTH", P3_AUTH);
	CHECK(cmd.arg == NULL);
	GOOD("AUTH PLAIN", P3_AUTH);
	CHECK(strcmp(cmd.arg, "PLAIN") == 0 && cmd.initial == NULL);
	GOOD("AUTH PLAIN AGpvZQBzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXQ=",
	    P3_AUTH);
	CHECK(cmd.initial != NULL && strcmp(cmd.initial,
	    "AGpvZQBzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXRzZWNyZXQ=") == 0);
	GOOD("AUTH PLAIN =", P3_AUTH);
	GOOD("APOP joe c4c9334bac560ecc979e58001b3e22fb", P3_APOP);
	CHECK(strcmp(cmd.arg, "joe") == 0);

	BAD("", "Empty");
	CHECK(cmd.verb == P3_EMPTY);
	BAD("FOO", "Unknown");
	CHECK(cmd.verb == P3_UNKNOWN);
	BAD("USER", "Missing");
	BAD("PASS", "password");
	BAD("RETR", "message number");
	BAD("RETR 0", "message number");
	BAD("RETR -1", "message number");
	BAD("RETR 4294967296", "message number");
	BAD("RETR 1x", "message number");
	BAD("DELE 1 2", "Too many");
	BAD("LIST 0", "message number");
	BAD("TOP 1", "lines");
	BAD("TOP 1 x", "lines");
	BAD("STAT x", "Too many");
	BAD("QUIT now", "Too many");
	BAD("RETR  1", "Extra spaces");
	BAD("USER a b", "Too many");
	BAD("USER 01234567890123456789012345678901234567890", "too long");
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "PASS ", 5);
	longline[253] = '\0';
	CHECK(parse(longline) == 0 && cmd.verb == P3_PASS);
	longline[253] = 'a';
	longline[254] = '\0';
	BAD(longline, "Line too long");
	CHECK(pop3_parse(strcpy(buf, "NO\0OP"), 5, &cmd, &err) == -1 &&
	    strstr(err, "NUL") != NULL);
	CHECK(strcmp(pop3_verb_name(P3_TOP), "TOP") == 0);
	return unit_done("test_pop3_parse");
}
