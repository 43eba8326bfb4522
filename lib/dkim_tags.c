/*
 * The DKIM tag-list (RFC 6376 3.2) and the two things written in it: the
 * DKIM-Signature field (3.5) and the key record in DNS (3.6.1).  Only
 * parsing and the checks that need no message or key material; the
 * verifier (dkim_verify.c) does the rest.
 */

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dkim_canon.h"
#include "dkim_verify.h"

#define IS_FWS(c)	((c) == ' ' || (c) == '\t' || (c) == '\r' || \
			    (c) == '\n')

static size_t
skip_fws(const char *p, size_t i, size_t len)
{
	while (i < len && IS_FWS(p[i]))
		i++;
	return i;
}

int
dkim_taglist_parse(const char *p, size_t len, struct dkim_tag *tags,
    size_t max, size_t *ntags)
{
	struct dkim_tag	*t;
	size_t		 i = 0, j, n = 0, end;

	for (;;) {
		i = skip_fws(p, i, len);
		if (i == len)
			break;
		if (n == max)
			return -1;
		t = &tags[n];
		/* tag-name = ALPHA *ALNUMPUNC */
		if (!isascii((unsigned char)p[i]) ||
		    !isalpha((unsigned char)p[i]))
			return -1;
		t->name = p + i;
		while (i < len && isascii((unsigned char)p[i]) &&
		    (isalnum((unsigned char)p[i]) || p[i] == '_'))
			i++;
		t->namelen = p + i - t->name;
		i = skip_fws(p, i, len);
		if (i == len || p[i] != '=')
			return -1;
		i++;
		t->rawoff = i;
		for (end = i; end < len && p[end] != ';'; end++)
			;
		t->rawlen = end - i;
		i = skip_fws(p, i, end);
		j = end;
		while (j > i && IS_FWS(p[j - 1]))
			j--;
		t->value = p + i;
		t->valuelen = j - i;
		/* VALCHAR is %x21-3A / %x3C-7E, whitespace in between. */
		for (; i < j; i++)
			if (!IS_FWS(p[i]) && (p[i] < 0x21 || p[i] > 0x7e))
				return -1;
		for (j = 0; j < n; j++)
			if (tags[j].namelen == t->namelen &&
			    memcmp(tags[j].name, t->name, t->namelen) == 0)
				return -1;
		n++;
		if (end == len)
			break;
		i = end + 1;
	}
	*ntags = n;
	return 0;
}

static const struct dkim_tag *
tag_find(const struct dkim_tag *tags, size_t n, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (tags[i].namelen == len &&
		    memcmp(tags[i].name, name, len) == 0)
			return &tags[i];
	return NULL;
}

static int
tag_is(const struct dkim_tag *t, const char *s)
{
	return t->valuelen == strlen(s) &&
	    strncasecmp(t->value, s, t->valuelen) == 0;
}

/* base64 with FWS anywhere (RFC 6376 2.4): bytes, or -1. */
static int
base64_decode(const char *p, size_t len, unsigned char *out, size_t outsz)
{
	char	 buf[4 * (DKIM_KEY_P_MAX / 3) + 8];
	size_t	 i, n = 0, pad = 0;
	int	 r;

	for (i = 0; i < len; i++) {
		if (IS_FWS(p[i]))
			continue;
		if (p[i] == '=') {
			pad++;
		} else if (pad > 0 || !(isascii((unsigned char)p[i]) &&
		    (isalnum((unsigned char)p[i]) || p[i] == '+' ||
		    p[i] == '/')))
			return -1;
		if (n == sizeof(buf) - 1)
			return -1;
		buf[n++] = p[i];
	}
	if (n == 0)
		return 0;
	if (n % 4 != 0 || pad > 2)
		return -1;
	if (n / 4 * 3 > outsz)
		return -1;
	buf[n] = '\0';
	r = EVP_DecodeBlock(out, (unsigned char *)buf, n);
	if (r < 0)
		return -1;
	return r - (int)pad;
}

/* A decimal of at most 18 digits (so it fits): its value, or -1. */
static long long
tag_number(const struct dkim_tag *t)
{
	long long	 v = 0;
	size_t		 i;

	if (t->valuelen == 0 || t->valuelen > 18)
		return -1;
	for (i = 0; i < t->valuelen; i++) {
		if (!isdigit((unsigned char)t->value[i]))
			return -1;
		v = v * 10 + (t->value[i] - '0');
	}
	return v;
}

static int
copy_value(char *out, size_t outsz, const struct dkim_tag *t)
{
	size_t	 i;

	if (t->valuelen == 0 || t->valuelen >= outsz)
		return -1;
	for (i = 0; i < t->valuelen; i++) {
		if (IS_FWS(t->value[i]))
			return -1;
		out[i] = tolower((unsigned char)t->value[i]);
	}
	out[i] = '\0';
	return 0;
}

static int
parse_canon(struct dkim_sig *sig, const struct dkim_tag *t)
{
	const char	*slash;
	size_t		 hl;

	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if (t == NULL)
		return 0;
	slash = memchr(t->value, '/', t->valuelen);
	hl = slash ? (size_t)(slash - t->value) : t->valuelen;
	if (hl == 7 && strncasecmp(t->value, "relaxed", 7) == 0)
		sig->hcanon = DKIM_CANON_RELAXED;
	else if (!(hl == 6 && strncasecmp(t->value, "simple", 6) == 0))
		return -1;
	if (slash == NULL)
		return 0;
	hl = t->valuelen - hl - 1;
	if (hl == 7 && strncasecmp(slash + 1, "relaxed", 7) == 0)
		sig->bcanon = DKIM_CANON_RELAXED;
	else if (!(hl == 6 && strncasecmp(slash + 1, "simple", 6) == 0))
		return -1;
	return 0;
}

/* h=: colon-separated field names, From among them. */
static int
parse_hnames(struct dkim_sig *sig, const struct dkim_tag *t)
{
	size_t	 i = 0, start, end, n;
	int	 from = 0;

	sig->nhnames = 0;
	while (i <= t->valuelen) {
		start = i;
		while (i < t->valuelen && t->value[i] != ':')
			i++;
		end = i++;
		while (start < end && IS_FWS(t->value[start]))
			start++;
		while (end > start && IS_FWS(t->value[end - 1]))
			end--;
		n = end - start;
		if (n == 0 || n >= sizeof(sig->hnames[0]) ||
		    sig->nhnames == DKIM_HNAMES_MAX)
			return -1;
		memcpy(sig->hnames[sig->nhnames], t->value + start, n);
		sig->hnames[sig->nhnames][n] = '\0';
		if (strcasecmp(sig->hnames[sig->nhnames], "from") == 0)
			from = 1;
		sig->nhnames++;
	}
	return from ? 0 : -1;
}

/* i= must be in d= or below it (RFC 6376 3.5). */
static int
identity_ok(const struct dkim_sig *sig)
{
	const char	*at = strrchr(sig->i, '@');
	size_t		 il, dl = strlen(sig->d);

	if (at == NULL)
		return 0;
	at++;
	il = strlen(at);
	if (strcasecmp(at, sig->d) == 0)
		return 1;
	return il > dl && at[il - dl - 1] == '.' &&
	    strcasecmp(at + il - dl, sig->d) == 0;
}

#define SIG_ERR(msg) do {						\
	snprintf(err, errsz, "%s", msg);				\
	return -1;							\
} while (0)

int
dkim_sig_parse(struct dkim_sig *sig, const char *p, size_t len, char *err,
    size_t errsz)
{
	struct dkim_tag		 tags[DKIM_TAGS_MAX];
	const struct dkim_tag	*t;
	size_t			 n, i;
	int			 r;

	memset(sig, 0, sizeof(*sig));
	if (dkim_taglist_parse(p, len, tags, DKIM_TAGS_MAX, &n) == -1)
		SIG_ERR("bad tag-list");
	if ((t = tag_find(tags, n, "v")) == NULL || !tag_is(t, "1"))
		SIG_ERR("v= missing or not 1");
	if ((t = tag_find(tags, n, "a")) == NULL)
		SIG_ERR("a= missing");
	if (tag_is(t, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (tag_is(t, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else
		SIG_ERR("unsupported algorithm");
	if ((t = tag_find(tags, n, "b")) == NULL)
		SIG_ERR("b= missing");
	r = base64_decode(t->value, t->valuelen, sig->b, sizeof(sig->b));
	if (r <= 0)
		SIG_ERR("bad b=");
	sig->blen = r;
	sig->braw = t->rawoff;
	sig->brawlen = t->rawlen;
	for (i = 0; i < t->valuelen && strlen(sig->bprefix) <
	    sizeof(sig->bprefix) - 1; i++)
		if (!IS_FWS(t->value[i]))
			sig->bprefix[strlen(sig->bprefix)] = t->value[i];
	if ((t = tag_find(tags, n, "bh")) == NULL)
		SIG_ERR("bh= missing");
	r = base64_decode(t->value, t->valuelen, sig->bh, sizeof(sig->bh));
	if (r != 32)
		SIG_ERR("bad bh=");
	sig->bhlen = r;
	if (parse_canon(sig, tag_find(tags, n, "c")) == -1)
		SIG_ERR("bad c=");
	if ((t = tag_find(tags, n, "d")) == NULL ||
	    copy_value(sig->d, sizeof(sig->d), t) == -1)
		SIG_ERR("bad or missing d=");
	if ((t = tag_find(tags, n, "s")) == NULL ||
	    copy_value(sig->s, sizeof(sig->s), t) == -1)
		SIG_ERR("bad or missing s=");
	if ((t = tag_find(tags, n, "h")) == NULL || parse_hnames(sig, t) ==
	    -1)
		SIG_ERR("bad or missing h= (From must be signed)");
	if ((t = tag_find(tags, n, "i")) != NULL) {
		if (t->valuelen == 0 || t->valuelen >= sizeof(sig->i))
			SIG_ERR("bad i=");
		memcpy(sig->i, t->value, t->valuelen);
		sig->i[t->valuelen] = '\0';
		if (!identity_ok(sig))
			SIG_ERR("i= not in d=");
	} else
		snprintf(sig->i, sizeof(sig->i), "@%s", sig->d);
	sig->l = sig->t = sig->x = -1;
	if ((t = tag_find(tags, n, "l")) != NULL &&
	    (sig->l = tag_number(t)) == -1)
		SIG_ERR("bad l=");
	if ((t = tag_find(tags, n, "t")) != NULL &&
	    (sig->t = tag_number(t)) == -1)
		SIG_ERR("bad t=");
	if ((t = tag_find(tags, n, "x")) != NULL &&
	    (sig->x = tag_number(t)) == -1)
		SIG_ERR("bad x=");
	if (sig->t != -1 && sig->x != -1 && sig->x < sig->t)
		SIG_ERR("x= before t=");
	if ((t = tag_find(tags, n, "q")) != NULL &&
	    strncasecmp(t->value, "dns/txt", 7) != 0)
		SIG_ERR("unsupported q=");
	return 0;
}

/* 1 if the colon list has item (or, with star, "*"). */
static int
list_has(const struct dkim_tag *t, const char *item, int star)
{
	size_t	 i = 0, start, end, il = strlen(item);

	while (i <= t->valuelen) {
		start = i;
		while (i < t->valuelen && t->value[i] != ':')
			i++;
		end = i++;
		while (start < end && IS_FWS(t->value[start]))
			start++;
		while (end > start && IS_FWS(t->value[end - 1]))
			end--;
		if (end - start == il &&
		    strncasecmp(t->value + start, item, il) == 0)
			return 1;
		if (star && end - start == 1 && t->value[start] == '*')
			return 1;
	}
	return 0;
}

int
dkim_key_parse(struct dkim_pubkey *key, const char *p, size_t len,
    char *err, size_t errsz)
{
	struct dkim_tag		 tags[DKIM_TAGS_MAX];
	const struct dkim_tag	*t;
	size_t			 n;
	int			 r;

	memset(key, 0, sizeof(*key));
	if (dkim_taglist_parse(p, len, tags, DKIM_TAGS_MAX, &n) == -1)
		SIG_ERR("bad key record");
	/* v=, if there, is first and DKIM1. */
	if ((t = tag_find(tags, n, "v")) != NULL &&
	    (t != &tags[0] || !tag_is(t, "DKIM1")))
		SIG_ERR("key v= not DKIM1");
	if ((t = tag_find(tags, n, "h")) != NULL && !list_has(t, "sha256", 0))
		SIG_ERR("key does not allow sha256");
	key->alg = DKIM_ALG_RSA_SHA256;
	if ((t = tag_find(tags, n, "k")) != NULL) {
		if (tag_is(t, "ed25519"))
			key->alg = DKIM_ALG_ED25519_SHA256;
		else if (!tag_is(t, "rsa"))
			SIG_ERR("unsupported key type");
	}
	if ((t = tag_find(tags, n, "s")) != NULL && !list_has(t, "email", 1))
		SIG_ERR("key not for email");
	if ((t = tag_find(tags, n, "t")) != NULL) {
		if (list_has(t, "y", 0))
			key->flags |= DKIM_KEY_TESTING;
		if (list_has(t, "s", 0))
			key->flags |= DKIM_KEY_STRICT;
	}
	if ((t = tag_find(tags, n, "p")) == NULL)
		SIG_ERR("key p= missing");
	r = base64_decode(t->value, t->valuelen, key->p, sizeof(key->p));
	if (r < 0)
		SIG_ERR("bad key p=");
	key->plen = r;
	key->revoked = r == 0;
	return 0;
}
