/*
 * fuzz_psl: libFuzzer target for lib/psl.c.  The input is a public
 * suffix list; each of its lines, and a few fixed names, are then asked
 * for their organisational domain, which must be a suffix of the name
 * made of whole labels (for a UTF-8 name: ASCII, and no more labels).
 *
 *   make regress/fuzz/fuzz_psl
 *   ./regress/fuzz/fuzz_psl -max_total_time=60
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "psl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
ask(const struct psl *l, const char *name)
{
	char	 out[300], low[300];
	size_t	 nl, ol, i;
	int	 r;

	nl = strlen(name);
	if (nl >= sizeof(low))
		return;
	r = psl_org_domain(l, name, out, sizeof(out));
	if (r == -1)
		return;
	for (i = 0; i < nl; i++)
		if ((unsigned char)name[i] >= 0x80)
			break;
	if (i < nl) {
		/* Answered in A-labels. */
		size_t	 dots = 0, odots = 0;

		for (i = 0; out[i] != '\0'; i++) {
			if ((unsigned char)out[i] >= 0x80)
				abort();
			odots += out[i] == '.';
		}
		for (i = 0; i < nl; i++)
			dots += name[i] == '.';
		if (odots > dots)
			abort();
		return;
	}
	for (i = 0; i < nl; i++)
		low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 :
		    name[i];
	low[nl] = '\0';
	if (nl > 0 && low[nl - 1] == '.')
		low[--nl] = '\0';
	ol = strlen(out);
	if (ol == 0 || ol > nl || strcmp(low + nl - ol, out) != 0)
		abort();
	if (ol < nl && low[nl - ol - 1] != '.')
		abort();
	if (r == 1 && ol != nl)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	*names[] = {
		"a.b.example.com", "www.ck", "x.y.z.co.uk", "com", "a.b.c.d.e",
	};
	struct psl	*l;
	char		 err[128], line[300];
	const char	*p = (const char *)data, *end = p + size, *nl;
	size_t		 i, n;

	if (size > 65536)
		return 0;
	l = psl_parse(p, size, err, sizeof(err));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ask(l, names[i]);
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		n = (nl == NULL ? end : nl) - p;
		if (n < sizeof(line) && memchr(p, '\0', n) == NULL) {
			memcpy(line, p, n);
			line[n] = '\0';
			ask(l, line[0] == '!' || line[0] == '*' ? line + 1 :
			    line);
		}
		p += n + 1;
	}
	psl_free(l);
	return 0;
}
