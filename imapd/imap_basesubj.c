/*
 * imap_basesubj: the base subject of RFC 5256 2.1, which SORT SUBJECT
 * compares and THREAD groups by: the Subject: value decoded (RFC 2047),
 * casemapped (imap_casemap.c: capitals, so the leaders are looked for
 * in capitals), blanks made single spaces, then the reply and forward
 * leaders ("Re:", "Fwd:", "Fw:", list tags "[list]" before them), the
 * "(fwd)" trailers and a "[fwd: ...]" wrapper taken away in the order
 * the RFC gives.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "imap_sortkey.h"

/* The text being reduced: s[b..e). */
struct subj {
	const char	*s;
	size_t		 b, e;
};

/* subj-blob = "[" *BLOBCHAR "]" *WSP: its length at p, or 0. */
static size_t
subj_blob(const struct subj *t, size_t p)
{
	size_t	 q = p;

	if (q >= t->e || t->s[q] != '[')
		return 0;
	for (q++; q < t->e && t->s[q] != '[' && t->s[q] != ']'; q++)
		;
	if (q >= t->e || t->s[q] != ']')
		return 0;
	for (q++; q < t->e && t->s[q] == ' '; q++)
		;
	return q - p;
}

/*
 * subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":", after any
 * number of blobs: its length at p, or 0.
 */
static size_t
subj_refwd(const struct subj *t, size_t p)
{
	size_t	 q = p, n;

	while ((n = subj_blob(t, q)) > 0)
		q += n;
	if (q + 2 <= t->e && strncmp(t->s + q, "RE", 2) == 0)
		q += 2;
	else if (q + 2 <= t->e && strncmp(t->s + q, "FW", 2) == 0) {
		q += 2;
		if (q < t->e && t->s[q] == 'D')
			q++;
	} else
		return 0;
	while (q < t->e && t->s[q] == ' ')
		q++;
	q += subj_blob(t, q);
	if (q >= t->e || t->s[q] != ':')
		return 0;
	return q + 1 - p;
}

/* Step 2: trailing blanks and "(fwd)". */
static void
subj_trailers(struct subj *t, int *refwd)
{
	for (;;) {
		if (t->e > t->b && t->s[t->e - 1] == ' ')
			t->e--;
		else if (t->e - t->b >= 5 &&
		    strncmp(t->s + t->e - 5, "(FWD)", 5) == 0) {
			t->e -= 5;
			*refwd = 1;
		} else
			return;
	}
}

/* Steps 3 to 5: leaders, and a blob that leaves something after it. */
static void
subj_leaders(struct subj *t, int *refwd)
{
	size_t	 n;
	int	 again;

	do {
		again = 0;
		for (;;) {
			if (t->b < t->e && t->s[t->b] == ' ')
				t->b++;
			else if ((n = subj_refwd(t, t->b)) > 0) {
				t->b += n;
				*refwd = 1;
			} else
				break;
		}
		if ((n = subj_blob(t, t->b)) > 0 && t->b + n < t->e) {
			t->b += n;
			again = 1;
		}
	} while (again);
}

/* Step 6: "[fwd:" ... "]" around the rest. */
static int
subj_fwd_wrapper(struct subj *t, int *refwd)
{
	if (t->e - t->b < 6 || strncmp(t->s + t->b, "[FWD:", 5) != 0 ||
	    t->s[t->e - 1] != ']')
		return 0;
	t->b += 5;
	t->e--;
	*refwd = 1;
	return 1;
}

/* Step 1's blanks: tabs and line ends are spaces, runs of them one. */
static void
subj_blanks(char *s)
{
	char	*start = s, *o = s;

	for (; *s != '\0'; s++) {
		if (*s == '\t' || *s == '\r' || *s == '\n')
			*s = ' ';
		if (*s == ' ' && o > start && o[-1] == ' ')
			continue;
		*o++ = *s;
	}
	*o = '\0';
}

char *
imap_basesubj(const char *raw, size_t len, int *refwd)
{
	struct subj	 t;
	char		*dec, *cm, *out;

	*refwd = 0;
	if ((dec = mime_decode_header(raw, len)) == NULL)
		return NULL;
	cm = imap_casemap(dec, strlen(dec));
	free(dec);
	if (cm == NULL)
		return NULL;
	subj_blanks(cm);
	t.s = cm;
	t.b = 0;
	t.e = strlen(cm);
	do {
		subj_trailers(&t, refwd);
		subj_leaders(&t, refwd);
	} while (subj_fwd_wrapper(&t, refwd));
	out = strndup(t.s + t.b, t.e - t.b);
	free(cm);
	return out;
}
