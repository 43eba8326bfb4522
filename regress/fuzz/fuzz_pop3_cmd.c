/*
 * fuzz_pop3_cmd: libFuzzer target for imapd/pop3_parse.c.  Each line
 * of the input is parsed; besides crashes it checks that the argument
 * pointers stay in the line, that message numbers are nonzero, and
 * that what was accepted fits the RFC 2449 line limit.
 *
 *   make regress/fuzz/fuzz_pop3_cmd
 *   ./regress/fuzz/fuzz_pop3_cmd -max_total_time=60 -max_len=4096
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../imapd/pop3_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 line[8192];

static int
inside(const char *p, size_t n)
{
	return p == NULL || (p >= line && p + strlen(p) <= line + n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_cmd	 cmd;
	const uint8_t	*p = data, *end = data + size, *nl;
	const char	*err;
	size_t		 n;

	while (p < end) {
		nl = memchr(p, '\n', end - p);
		n = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p + 1);
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n;
		err = NULL;
		if (pop3_parse(line, n, &cmd, &err) == -1) {
			if (err == NULL)
				abort();
			continue;
		}
		if (cmd.verb <= P3_UNKNOWN || cmd.verb >= P3_NVERBS ||
		    strlen(line) + 2 > POP3_LINE_MAX ||
		    !inside(cmd.arg, n) || !inside(cmd.initial, n))
			abort();
		if (cmd.has_msg && cmd.msg == 0)
			abort();
		if ((cmd.verb == P3_RETR || cmd.verb == P3_DELE ||
		    cmd.verb == P3_TOP) && !cmd.has_msg)
			abort();
		if ((cmd.verb == P3_USER || cmd.verb == P3_PASS) &&
		    (cmd.arg == NULL || *cmd.arg == '\0'))
			abort();
		if (strcmp(pop3_verb_name(cmd.verb), "?") == 0)
			abort();
	}
	return 0;
}
