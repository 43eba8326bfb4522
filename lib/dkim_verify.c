/*
 * DKIM verification of a message stream (RFC 6376 6, RFC 8463).
 *
 * The header block is collected by dkim_canon.c's splitter; at its end
 * the DKIM-Signature fields are parsed and each gets its own body
 * canonicalizer and SHA-256, fed from then on with every body chunk, so
 * l= and simple/relaxed may differ per signature without a second pass.
 * Keys are asked for one question at a time once the header is in.
 * When the body and the keys are all there, each signature is decided:
 * body hash, then the signed header fields bottom-up as h= names them,
 * then the signature itself over their SHA-256 (RSA PKCS#1 v1.5, or
 * Ed25519 over the hash as RFC 8463 3 says).
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim_canon.h"
#include "dkim_keycache.h"
#include "dkim_verify.h"

#define SIG_FIELD_MAX	8192	/* one DKIM-Signature field, b= removed */

/* Where a signature is. */
#define S_KEY		0	/* wants its key */
#define S_ASKED		1	/* key question out */
#define S_READY		2	/* key in, waiting for the body */
#define S_DONE		3	/* decided */

struct vsig {
	int			 state;
	size_t			 field;		/* its DKIM-Signature */
	struct dkim_sig		 sig;
	struct dkim_pubkey	 key;
	struct dkim_body	 body;
	EVP_MD_CTX		*bh;
	unsigned long long	 bodylen;	/* canonical body length */
	struct dkim_result	 res;
};

struct dkim_verify {
	time_t			 now;
	int			 header_done;
	int			 final;
	size_t			 nsigs;
	size_t			 asked;		/* the sig with the question */
	struct vsig		 sigs[DKIM_VERIFY_SIGS_MAX];
	struct dkim_msg		 msg;
	char			 hdr[DKIM_HEADER_MAX];
	char			 buf[SIG_FIELD_MAX];
};

static const char *result_names[] = {
	"none", "pass", "fail", "neutral", "temperror", "permerror",
};

const char *
dkim_result_name(int r)
{
	if (r < 0 || r > DKIM_PERMERROR)
		return "permerror";
	return result_names[r];
}

static void
ignore_out(void *arg, const void *data, size_t len)
{
}

/*
 * Freed verifiers are kept for the next messages: one is some 180 KiB,
 * which malloc maps and unmaps each time and the kernel zeroes afresh,
 * page by page, for every message checked.
 */
#define DKIM_VERIFY_SPARES	8
static struct dkim_verify	*spares[DKIM_VERIFY_SPARES];
static size_t			 nspares;

struct dkim_verify *
dkim_verify_new(void)
{
	struct dkim_verify	*v;

	if (nspares > 0) {
		v = spares[--nspares];
		dkim_verify_reset(v);
		return v;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->now = time(NULL);
	dkim_msg_init(&v->msg, v->hdr, sizeof(v->hdr), ignore_out, NULL);
	return v;
}

void
dkim_verify_free(struct dkim_verify *v)
{
	size_t	 i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsigs; i++)
		EVP_MD_CTX_free(v->sigs[i].bh);
	v->nsigs = 0;
	if (nspares < DKIM_VERIFY_SPARES)
		spares[nspares++] = v;
	else
		free(v);
}

/* Only what a message set is cleared: the buffers are large. */
void
dkim_verify_reset(struct dkim_verify *v)
{
	size_t	 i;

	for (i = 0; i < v->nsigs; i++)
		EVP_MD_CTX_free(v->sigs[i].bh);
	v->nsigs = 0;
	v->asked = 0;
	v->header_done = 0;
	v->final = 0;
	v->now = time(NULL);
	dkim_msg_init(&v->msg, v->hdr, sizeof(v->hdr), ignore_out, NULL);
}

void
dkim_verify_set_time(struct dkim_verify *v, time_t now)
{
	v->now = now;
}

static void
decide(struct vsig *s, int result, const char *reason)
{
	s->state = S_DONE;
	s->res.result = result;
	snprintf(s->res.reason, sizeof(s->res.reason), "%s", reason);
}

/* The canonical body, counted, into the hash up to l= octets. */
static void
body_out(void *arg, const void *data, size_t len)
{
	struct vsig		*s = arg;
	unsigned long long	 n = len;

	if (s->sig.l >= 0) {
		if (s->bodylen >= (unsigned long long)s->sig.l)
			n = 0;
		else if (s->bodylen + n > (unsigned long long)s->sig.l)
			n = s->sig.l - s->bodylen;
	}
	if (n > 0)
		(void)EVP_DigestUpdate(s->bh, data, n);
	s->bodylen += len;
}

static const char *
field_value(const struct dkim_verify *v, size_t i, size_t *len)
{
	const struct dkim_field	*f = &v->msg.fields[i];
	const char		*p = v->hdr + f->off;
	const char		*colon;

	colon = memchr(p, ':', f->len);
	*len = f->len - (colon + 1 - p);
	return colon + 1;
}

static void
add_sig(struct dkim_verify *v, size_t field)
{
	struct vsig	*s = &v->sigs[v->nsigs++];
	const char	*val;
	char		 err[96];
	size_t		 len;

	memset(s, 0, sizeof(*s));
	s->field = field;
	val = field_value(v, field, &len);
	if (dkim_sig_parse(&s->sig, val, len, err, sizeof(err)) == -1) {
		decide(s, DKIM_PERMERROR, err);
		return;
	}
	/* Same sizes, NUL-terminated by the parser. */
	memcpy(s->res.domain, s->sig.d, sizeof(s->res.domain));
	memcpy(s->res.selector, s->sig.s, sizeof(s->res.selector));
	memcpy(s->res.identity, s->sig.i, sizeof(s->res.identity));
	memcpy(s->res.bprefix, s->sig.bprefix, sizeof(s->res.bprefix));
	s->res.alg = s->sig.alg;
	if (s->sig.x != -1 && s->sig.x < v->now) {
		decide(s, DKIM_FAIL, "signature expired (x=)");
		return;
	}
	if (s->sig.t != -1 && s->sig.t > v->now + DKIM_FUTURE_SKEW) {
		decide(s, DKIM_PERMERROR, "signature from the future (t=)");
		return;
	}
	if ((s->bh = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->bh, EVP_sha256(), NULL) != 1) {
		decide(s, DKIM_TEMPERROR, "out of memory");
		return;
	}
	dkim_body_init(&s->body, s->sig.bcanon, body_out, s);
	s->state = S_KEY;
}

/* The header block is in: find the signatures (top first). */
static void
header_done(struct dkim_verify *v)
{
	struct vsig	*s;
	size_t		 i;

	v->header_done = 1;
	if (dkim_msg_fields(&v->msg) == -1) {
		s = &v->sigs[v->nsigs++];
		memset(s, 0, sizeof(*s));
		decide(s, DKIM_PERMERROR, "header block too large");
		return;
	}
	for (i = 0; i < v->msg.nfields && v->nsigs < DKIM_VERIFY_SIGS_MAX;
	    i++)
		if (dkim_field_is(&v->msg, &v->msg.fields[i],
		    "dkim-signature"))
			add_sig(v, i);
}

static void
feed_body(struct dkim_verify *v, const void *data, size_t len)
{
	size_t	 i;

	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].state != S_DONE)
			dkim_body_update(&v->sigs[i].body, data, len);
}

void
dkim_verify_update(struct dkim_verify *v, const void *data, size_t len)
{
	size_t	 n = 0;

	if (v->final)
		return;
	if (!v->header_done) {
		n = dkim_msg_header(&v->msg, data, len);
		if (!v->msg.in_body)
			return;
		header_done(v);
	}
	if (n < len)
		feed_body(v, (const char *)data + n, len - n);
}

void
dkim_verify_final(struct dkim_verify *v)
{
	size_t	 i;

	if (v->final)
		return;
	if (!v->header_done)
		header_done(v);
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].state != S_DONE)
			dkim_body_final(&v->sigs[i].body);
	v->final = 1;
}

static void
got_key(struct vsig *s, const struct dnsq_answer *a)
{
	const struct dnsq_rr	*rr;
	char			 err[96];
	size_t			 i;

	if (a->rcode == DNSQ_SERVFAIL) {
		decide(s, DKIM_TEMPERROR, "key lookup failed");
		return;
	}
	for (i = 0; a->rcode == DNSQ_NOERROR && i < a->nrr; i++)
		if (a->rr[i].type == DNSQ_TXT)
			break;
	if (a->rcode != DNSQ_NOERROR || i == a->nrr) {
		decide(s, DKIM_PERMERROR, "no key");
		return;
	}
	rr = &a->rr[i];
	if (dkim_key_parse(&s->key, dnsq_rr_text(a, rr), rr->len, err,
	    sizeof(err)) == -1) {
		decide(s, DKIM_PERMERROR, err);
		return;
	}
	if (s->key.revoked) {
		decide(s, DKIM_PERMERROR, "key revoked");
		return;
	}
	if (s->key.alg != s->sig.alg) {
		decide(s, DKIM_PERMERROR, "key type does not match a=");
		return;
	}
	if ((s->key.flags & DKIM_KEY_STRICT) &&
	    strcasecmp(strrchr(s->sig.i, '@') + 1, s->sig.d) != 0) {
		decide(s, DKIM_PERMERROR, "key t=s but i= is a subdomain");
		return;
	}
	s->res.testing = (s->key.flags & DKIM_KEY_TESTING) != 0;
	s->state = S_READY;
}

/* Appends to the buffer sink. */
struct membuf {
	char	*p;
	size_t	 sz;
	size_t	 len;
	int	 full;
};

static void
mem_out(void *arg, const void *data, size_t len)
{
	struct membuf	*m = arg;

	if (m->full || len > m->sz - m->len) {
		m->full = 1;
		return;
	}
	memcpy(m->p + m->len, data, len);
	m->len += len;
}

static void
hash_out(void *arg, const void *data, size_t len)
{
	(void)EVP_DigestUpdate(arg, data, len);
}

static void
canon_field(struct dkim_sink *sink, int canon, const char *f, size_t len)
{
	if (canon == DKIM_CANON_RELAXED)
		dkim_header_relaxed(sink, f, len);
	else
		dkim_header_simple(sink, f, len);
}

/*
 * The signed fields in h= order: each name takes the lowest instance
 * not taken yet; a name with none left adds nothing (RFC 6376 5.4.2).
 * Then the signature field with its b= emptied and no final CRLF.
 */
static int
header_hash(struct dkim_verify *v, struct vsig *s, unsigned char *md)
{
	struct dkim_sink	 sink;
	struct dkim_field	*f;
	struct membuf		 m;
	EVP_MD_CTX		*ctx;
	unsigned char		 used[DKIM_FIELDS_MAX];
	const char		*val, *field;
	char			 canon[SIG_FIELD_MAX];
	size_t			 i, j, vlen, pre;
	unsigned int		 mdlen;
	int			 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	memset(used, 0, sizeof(used));
	dkim_sink_init(&sink, hash_out, ctx);
	for (i = 0; i < s->sig.nhnames; i++)
		for (j = v->msg.nfields; j > 0; j--) {
			f = &v->msg.fields[j - 1];
			if (used[j - 1] || !dkim_field_is(&v->msg, f,
			    s->sig.hnames[i]))
				continue;
			used[j - 1] = 1;
			canon_field(&sink, s->sig.hcanon, v->hdr + f->off,
			    f->len);
			break;
		}
	dkim_sink_flush(&sink);

	f = &v->msg.fields[s->field];
	field = v->hdr + f->off;
	val = field_value(v, s->field, &vlen);
	pre = (val - field) + s->sig.braw;
	ok = f->len - s->sig.brawlen <= sizeof(v->buf);
	if (ok) {
		memcpy(v->buf, field, pre);
		memcpy(v->buf + pre, field + pre + s->sig.brawlen,
		    f->len - pre - s->sig.brawlen);
		m.p = canon;
		m.sz = sizeof(canon);
		m.len = 0;
		m.full = 0;
		dkim_sink_init(&sink, mem_out, &m);
		canon_field(&sink, s->sig.hcanon, v->buf,
		    f->len - s->sig.brawlen);
		dkim_sink_flush(&sink);
		ok = !m.full && m.len >= 2;
	}
	if (ok)
		ok = EVP_DigestUpdate(ctx, canon, m.len - 2) == 1 &&
		    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static EVP_PKEY *
parse_key(const struct vsig *s)
{
	const unsigned char	*p = s->key.p;
	EVP_PKEY		*pkey;

	if (s->key.alg == DKIM_ALG_ED25519_SHA256)
		return s->key.plen != 32 ? NULL :
		    EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    s->key.p, s->key.plen);
	/* SubjectPublicKeyInfo as RFC 6376 says, or a bare RSAPublicKey. */
	if ((pkey = d2i_PUBKEY(NULL, &p, s->key.plen)) != NULL)
		return pkey;
	p = s->key.p;
	return d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, s->key.plen);
}

/*
 * The key of s, parsed once for all the messages signed with it
 * (dkim_keycache.c); NULL if it does not parse.  Set *own when the
 * caller must free it (the cache could not keep it).
 */
static EVP_PKEY *
load_key(const struct vsig *s, int *own)
{
	EVP_PKEY	*pkey;

	*own = 0;
	if ((pkey = dkim_keycache_find(s->key.alg, s->key.p,
	    s->key.plen)) != NULL)
		return pkey;
	if ((pkey = parse_key(s)) == NULL)
		return NULL;
	if (dkim_keycache_add(s->key.alg, s->key.p, s->key.plen, pkey) == -1)
		*own = 1;
	return pkey;
}

static int
sig_matches(const struct vsig *s, EVP_PKEY *pkey, const unsigned char *md)
{
	EVP_PKEY_CTX	*pctx = NULL;
	EVP_MD_CTX	*mctx = NULL;
	int		 ok = 0;

	if (s->sig.alg == DKIM_ALG_ED25519_SHA256) {
		if ((mctx = EVP_MD_CTX_new()) != NULL &&
		    EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, pkey) == 1)
			ok = EVP_DigestVerify(mctx, s->sig.b, s->sig.blen, md,
			    32) == 1;
		EVP_MD_CTX_free(mctx);
		return ok;
	}
	if ((pctx = dkim_keycache_rsa_verifier(pkey)) != NULL)
		return EVP_PKEY_verify(pctx, s->sig.b, s->sig.blen, md, 32) == 1;
	if ((pctx = EVP_PKEY_CTX_new(pkey, NULL)) != NULL &&
	    EVP_PKEY_verify_init(pctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1)
		ok = EVP_PKEY_verify(pctx, s->sig.b, s->sig.blen, md, 32) == 1;
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

static void
check_sig(struct dkim_verify *v, struct vsig *s)
{
	unsigned char	 bh[EVP_MAX_MD_SIZE], md[32];
	unsigned int	 bhlen;
	EVP_PKEY	*pkey;
	int		 own;

	if (EVP_DigestFinal_ex(s->bh, bh, &bhlen) != 1) {
		decide(s, DKIM_TEMPERROR, "hash failed");
		return;
	}
	if (s->sig.l >= 0) {
		if ((unsigned long long)s->sig.l > s->bodylen) {
			decide(s, DKIM_FAIL, "body shorter than l=");
			return;
		}
		s->res.limited = (unsigned long long)s->sig.l < s->bodylen;
	}
	if (bhlen != s->sig.bhlen || memcmp(bh, s->sig.bh, bhlen) != 0) {
		decide(s, DKIM_FAIL, "body hash did not verify");
		return;
	}
	if ((pkey = load_key(s, &own)) == NULL) {
		decide(s, DKIM_PERMERROR, "bad key");
		return;
	}
	s->res.bits = EVP_PKEY_get_bits(pkey);
	if (s->sig.alg == DKIM_ALG_RSA_SHA256 &&
	    (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
	    s->res.bits < DKIM_MIN_RSA_BITS))
		decide(s, DKIM_FAIL, "RSA key shorter than 1024 bits");
	else if (header_hash(v, s, md) == -1)
		decide(s, DKIM_PERMERROR, "signature field too large");
	else if (sig_matches(s, pkey, md))
		decide(s, DKIM_PASS, s->res.limited ?
		    "good signature, body only partly signed (l=)" :
		    "good signature");
	else
		decide(s, DKIM_FAIL, "signature did not verify");
	if (own)
		EVP_PKEY_free(pkey);
}

int
dkim_verify_step(struct dkim_verify *v, const struct dnsq_answer *a,
    struct dnsq_query *q)
{
	size_t	 i;

	if (!v->header_done)
		return DKIM_STEP_WAIT;
	if (a != NULL && v->asked < v->nsigs &&
	    v->sigs[v->asked].state == S_ASKED)
		got_key(&v->sigs[v->asked], a);
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].state == S_ASKED)
			return DKIM_STEP_DNS;
	if (dkim_verify_next_key(v, &v->asked, q))
		return DKIM_STEP_DNS;
	return dkim_verify_done(v) ? DKIM_STEP_DONE : DKIM_STEP_WAIT;
}

/* The key questions all at once (dkim_verify.h). */
int
dkim_verify_next_key(struct dkim_verify *v, size_t *idx,
    struct dnsq_query *q)
{
	struct vsig	*s;
	char		 name[DNSQ_NAME_MAX * 2 + 16];
	size_t		 i;

	if (!v->header_done)
		return 0;
	for (i = 0; i < v->nsigs; i++) {
		s = &v->sigs[i];
		if (s->state != S_KEY)
			continue;
		snprintf(name, sizeof(name), "%s._domainkey.%s", s->sig.s,
		    s->sig.d);
		if (strlen(name) >= DNSQ_NAME_MAX) {
			decide(s, DKIM_PERMERROR, "key name too long");
			continue;
		}
		dnsq_query_set(q, name, DNSQ_TXT);
		s->state = S_ASKED;
		*idx = i;
		return 1;
	}
	return 0;
}

void
dkim_verify_key(struct dkim_verify *v, size_t idx,
    const struct dnsq_answer *a)
{
	if (idx < v->nsigs && v->sigs[idx].state == S_ASKED)
		got_key(&v->sigs[idx], a);
}

int
dkim_verify_done(struct dkim_verify *v)
{
	size_t	 i;

	if (!v->final)
		return 0;
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].state == S_KEY || v->sigs[i].state == S_ASKED)
			return 0;
	for (i = 0; i < v->nsigs; i++)
		if (v->sigs[i].state == S_READY)
			check_sig(v, &v->sigs[i]);
	return 1;
}

size_t
dkim_verify_count(const struct dkim_verify *v)
{
	return v->nsigs;
}

const struct dkim_result *
dkim_verify_result(const struct dkim_verify *v, size_t i)
{
	return i < v->nsigs ? &v->sigs[i].res : NULL;
}
