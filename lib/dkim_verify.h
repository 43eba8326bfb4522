/*
 * DKIM verification (RFC 6376, RFC 8463): the tag-list parser shared by
 * the DKIM-Signature field and the key record, the two parsers on top
 * of it, and a verifier that takes the message as a stream.  The body
 * of each signature is canonicalized and hashed as the chunks come in
 * (no second pass over the file); the key lookups are DNS questions
 * handed out one at a time (dnsq.h), so nothing here blocks.
 *
 *	v = dkim_verify_new();
 *	dkim_verify_update(v, chunk, len);	... as the message comes
 *	dkim_verify_final(v);
 *	while (dkim_verify_step(v, answer, &q) == DKIM_STEP_DNS)
 *		answer = resolve(&q);
 *
 * dkim_verify_step() may be called as soon as the header block is in,
 * so the key lookups overlap the body; it says DKIM_STEP_WAIT while the
 * keys are in but the body is not.
 */

#ifndef TSAMBA_DKIM_VERIFY_H
#define TSAMBA_DKIM_VERIFY_H

#include <stddef.h>
#include <time.h>

#include "dnsq.h"

/* Results, as RFC 8601 names them. */
#define DKIM_NONE	0
#define DKIM_PASS	1
#define DKIM_FAIL	2
#define DKIM_NEUTRAL	3
#define DKIM_TEMPERROR	4
#define DKIM_PERMERROR	5

#define DKIM_ALG_RSA_SHA256	1
#define DKIM_ALG_ED25519_SHA256	2

#define DKIM_STEP_DONE	0
#define DKIM_STEP_DNS	1
#define DKIM_STEP_WAIT	2	/* the message is not all in yet */

#define DKIM_TAGS_MAX	32
#define DKIM_HNAMES_MAX	64	/* names in h= */
#define DKIM_SIG_B_MAX	1024	/* signature bytes (RSA 8192) */
#define DKIM_KEY_P_MAX	2048	/* public key bytes */
#define DKIM_VERIFY_SIGS_MAX 8	/* signatures checked per message */
#define DKIM_MIN_RSA_BITS 1024
#define DKIM_FUTURE_SKEW 300	/* seconds a t= may be ahead of us */

/* One "name=value" of a tag-list; value without surrounding FWS. */
struct dkim_tag {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
	size_t		 rawoff;	/* after '=' up to ';' or the end */
	size_t		 rawlen;	/* (the whole value, FWS included) */
};

/*
 * RFC 6376 3.2: 0, or -1 on a syntax error or a repeated tag.  Line
 * ends count as folding white space.
 */
int	dkim_taglist_parse(const char *, size_t, struct dkim_tag *,
	    size_t max, size_t *ntags);

struct dkim_sig {
	int		 alg;		/* DKIM_ALG_* */
	int		 hcanon;	/* DKIM_CANON_* */
	int		 bcanon;
	char		 d[DNSQ_NAME_MAX];
	char		 s[DNSQ_NAME_MAX];
	char		 i[DNSQ_NAME_MAX * 2];
	char		 bprefix[17];	/* b= text, for header.b */
	unsigned char	 b[DKIM_SIG_B_MAX];
	size_t		 blen;
	unsigned char	 bh[64];
	size_t		 bhlen;
	char		 hnames[DKIM_HNAMES_MAX][64];
	size_t		 nhnames;
	long long	 l;		/* -1: whole body */
	long long	 t;		/* -1: absent */
	long long	 x;
	size_t		 braw;		/* b= value in the field value */
	size_t		 brawlen;
};

/* A DKIM-Signature field's value: 0, or -1 with err set. */
int	dkim_sig_parse(struct dkim_sig *, const char *, size_t, char *err,
	    size_t errsz);

#define DKIM_KEY_TESTING	0x01	/* t=y */
#define DKIM_KEY_STRICT		0x02	/* t=s: i= domain must be d= */

struct dkim_pubkey {
	int		 alg;		/* k=: DKIM_ALG_* (sha256 both) */
	int		 flags;
	int		 revoked;	/* empty p= */
	unsigned char	 p[DKIM_KEY_P_MAX];
	size_t		 plen;
};

/* A key record's TXT text: 0, or -1 with err set. */
int	dkim_key_parse(struct dkim_pubkey *, const char *, size_t,
	    char *err, size_t errsz);

struct dkim_result {
	int		 result;	/* DKIM_* */
	int		 alg;
	char		 domain[DNSQ_NAME_MAX];		/* d= */
	char		 selector[DNSQ_NAME_MAX];	/* s= */
	char		 identity[DNSQ_NAME_MAX * 2];	/* i= */
	char		 bprefix[17];
	int		 bits;		/* key size, when known */
	int		 limited;	/* l= left body out: weaker */
	int		 testing;	/* t=y key */
	char		 reason[128];
};

struct dkim_verify;

struct dkim_verify *dkim_verify_new(void);
void	dkim_verify_free(struct dkim_verify *);
/* Ready for the next message, without freeing (the state is large). */
void	dkim_verify_reset(struct dkim_verify *);
/* The clock for x= and t= (default: time(NULL) at dkim_verify_new). */
void	dkim_verify_set_time(struct dkim_verify *, time_t);
void	dkim_verify_update(struct dkim_verify *, const void *, size_t);
void	dkim_verify_final(struct dkim_verify *);
int	dkim_verify_step(struct dkim_verify *, const struct dnsq_answer *,
	    struct dnsq_query *);
/*
 * The same with the key questions in parallel: after the header block
 * (or dkim_verify_final), dkim_verify_next_key() hands out each
 * signature's question with its index (1; 0 when none is left),
 * dkim_verify_key() takes the answer for that index, in any order, and
 * dkim_verify_done() is 1 once the message is final and every key is
 * in, the signatures then checked.
 */
int	dkim_verify_next_key(struct dkim_verify *, size_t *,
	    struct dnsq_query *);
void	dkim_verify_key(struct dkim_verify *, size_t,
	    const struct dnsq_answer *);
int	dkim_verify_done(struct dkim_verify *);

/* The signatures found (at most DKIM_VERIFY_SIGS_MAX), top first. */
size_t	dkim_verify_count(const struct dkim_verify *);
const struct dkim_result *dkim_verify_result(const struct dkim_verify *,
	    size_t);
const char *dkim_result_name(int);

#endif
