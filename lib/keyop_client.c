/*
 * The network-facing side of the key process: an RSA_METHOD and an
 * EC_KEY_METHOD whose private-key operations are questions over a
 * dedicated blocking socketpair.  The socket carries nothing else, so a
 * question and its answer never interleave with the evented channels of
 * the process; the wait has a deadline, and any failure makes only the
 * one TLS handshake fail.
 */

/* RSA_METHOD and EC_KEY_METHOD are what libtls' fake key leaves us. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "channel.h"
#include "imsg.h"
#include "keyop.h"
#include "log.h"
#include "proto.h"

static const struct channel_type keyop_types[] = {
	{ IMSG_KEY_RESULT, CHANNEL_ANSWER },
	{ 0, 0 }
};

/* proto_msgs.def bounds the blobs with its own copy of these. */
_Static_assert(PROTO_KEYID_LEN == KEYOP_ID_LEN, "key id length");
_Static_assert(PROTO_KEYINPUT_MAX == KEYOP_INPUT_MAX, "key input bound");

static struct channel	 keyop_ch;
static int		 keyop_up;
static uint64_t		 keyop_next_id = 1;

static int	keyop_ask(uint32_t, const uint8_t *, uint32_t, const void *,
		    size_t, void *, size_t);
static int	keyop_wait(uint64_t, void *, size_t);
static int	keyop_rsa_enc(int, const unsigned char *, unsigned char *,
		    RSA *, int);
static int	keyop_rsa_dec(int, const unsigned char *, unsigned char *,
		    RSA *, int);
static int	keyop_ec_sign(int, const unsigned char *, int,
		    unsigned char *, unsigned int *, const BIGNUM *,
		    const BIGNUM *, EC_KEY *);
static ECDSA_SIG *keyop_ec_sign_sig(const unsigned char *, int,
		    const BIGNUM *, const BIGNUM *, EC_KEY *);

/* Feed a u32 length and the bytes, so no two inputs hash alike. */
static int
keyop_id_add(EVP_MD_CTX *md, const void *p, size_t len)
{
	uint32_t	 n = len;

	return EVP_DigestUpdate(md, &n, sizeof(n)) == 1 &&
	    EVP_DigestUpdate(md, p, len) == 1 ? 0 : -1;
}

static int
keyop_id_bn(EVP_MD_CTX *md, const BIGNUM *bn)
{
	unsigned char	 buf[1024];
	int		 len;

	if (bn == NULL || BN_num_bytes(bn) > (int)sizeof(buf))
		return -1;
	len = BN_bn2bin(bn, buf);
	return keyop_id_add(md, buf, len);
}

int
keyop_id_rsa(const struct rsa_st *rsa, uint8_t id[KEYOP_ID_LEN])
{
	EVP_MD_CTX	*md;
	int		 rv = -1;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    keyop_id_add(md, "rsa", 3) == 0 &&
	    keyop_id_bn(md, RSA_get0_n(rsa)) == 0 &&
	    keyop_id_bn(md, RSA_get0_e(rsa)) == 0 &&
	    EVP_DigestFinal_ex(md, id, NULL) == 1)
		rv = 0;
	EVP_MD_CTX_free(md);
	return rv;
}

/* The curve and the point, uncompressed whatever the file said. */
int
keyop_id_ec(const struct ec_key_st *ec, uint8_t id[KEYOP_ID_LEN])
{
	const EC_GROUP	*g;
	const EC_POINT	*pt;
	EVP_MD_CTX	*md;
	unsigned char	 buf[256];
	size_t		 len;
	uint32_t	 nid;
	int		 rv = -1;

	if ((g = EC_KEY_get0_group(ec)) == NULL ||
	    (pt = EC_KEY_get0_public_key(ec)) == NULL)
		return -1;
	nid = EC_GROUP_get_curve_name(g);
	len = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, buf,
	    sizeof(buf), NULL);
	if (len == 0 || (md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    keyop_id_add(md, "ec", 2) == 0 &&
	    keyop_id_add(md, &nid, sizeof(nid)) == 0 &&
	    keyop_id_add(md, buf, len) == 0 &&
	    EVP_DigestFinal_ex(md, id, NULL) == 1)
		rv = 0;
	EVP_MD_CTX_free(md);
	return rv;
}

int
keyop_client_init(int fd)
{
	RSA_METHOD	*rm;
	EC_KEY_METHOD	*em;
	int		(*sign)(int, const unsigned char *, int,
			    unsigned char *, unsigned int *, const BIGNUM *,
			    const BIGNUM *, EC_KEY *);
	int		(*setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **);
	ECDSA_SIG	*(*sign_sig)(const unsigned char *, int,
			    const BIGNUM *, const BIGNUM *, EC_KEY *);
	int		 flags;

	/* A blocking socket: the deadline comes from poll(). */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		return -1;
	channel_init(&keyop_ch, "key process", "key client", keyop_types,
	    NULL, NULL);
	if (channel_sync_hello(&keyop_ch, fd, KEYOP_TIMEOUT) == -1)
		return -1;
	keyop_up = 1;

	if ((rm = RSA_meth_dup(RSA_get_default_method())) == NULL ||
	    RSA_meth_set1_name(rm, "tsamba key process") != 1 ||
	    RSA_meth_set_priv_enc(rm, keyop_rsa_enc) != 1 ||
	    RSA_meth_set_priv_dec(rm, keyop_rsa_dec) != 1)
		return -1;
	RSA_set_default_method(rm);

	if ((em = EC_KEY_METHOD_new(EC_KEY_get_default_method())) == NULL)
		return -1;
	EC_KEY_METHOD_get_sign(em, &sign, &setup, &sign_sig);
	EC_KEY_METHOD_set_sign(em, keyop_ec_sign, setup, keyop_ec_sign_sig);
	EC_KEY_set_default_method(em);
	return 0;
}

/*
 * One question: type, the key's id, a parameter (RSA padding) and the
 * input.  Returns the length of the answer copied to out, or -1.
 */
static int
keyop_ask(uint32_t type, const uint8_t *keyid, uint32_t param,
    const void *in, size_t inlen, void *out, size_t outsz)
{
	struct msg_key_rsa_priv_enc	 enc;
	struct msg_key_rsa_priv_dec	 dec;
	struct msg_key_ecdsa_sign	 sign;
	struct ibuf			*b;
	uint64_t			 id;

	if (!keyop_up) {
		log_warnx("key process: channel down, handshake refused");
		return -1;
	}
	if (inlen > KEYOP_INPUT_MAX)
		return -1;
	id = keyop_next_id++;
	/* The three questions have the same fields. */
#define KEYOP_FILL(v) do {						\
	(v).id = id;							\
	(v).keyid = keyid;						\
	(v).keyid_len = KEYOP_ID_LEN;					\
	(v).param = param;						\
	(v).input = in;							\
	(v).input_len = inlen;						\
} while (0)
	switch (type) {
	case IMSG_KEY_RSA_PRIV_ENC:
		KEYOP_FILL(enc);
		b = msg_key_rsa_priv_enc_pack(&enc, -1);
		break;
	case IMSG_KEY_RSA_PRIV_DEC:
		KEYOP_FILL(dec);
		b = msg_key_rsa_priv_dec_pack(&dec, -1);
		break;
	default:
		KEYOP_FILL(sign);
		b = msg_key_ecdsa_sign_pack(&sign, -1);
		break;
	}
#undef KEYOP_FILL
	if (b == NULL)
		return -1;
	if (b->error) {
		ibuf_free(b);
		return -1;
	}
	if (channel_sync_send(&keyop_ch, b) == -1) {
		keyop_up = 0;
		return -1;
	}
	return keyop_wait(id, out, outsz);
}

static long long
keyop_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read answers until the one for id; older ones came too late. */
static int
keyop_wait(uint64_t id, void *out, size_t outsz)
{
	struct imsg		 imsg;
	union imsg_msg		 u;
	struct msg_key_result	*r = &u.key_result;
	long long		 deadline = keyop_now() + KEYOP_TIMEOUT, left;
	int			 rv;

	for (;;) {
		if ((left = deadline - keyop_now()) <= 0) {
			log_warnx("key process: no answer in %d ms",
			    KEYOP_TIMEOUT);
			return -1;
		}
		if (channel_sync_get(&keyop_ch, &imsg, &u, left) == -1)
			break;
		if (r->id > id) {
			imsg_free(&imsg);
			break;
		}
		if (r->id < id) {
			imsg_free(&imsg);
			continue;
		}
		rv = -1;
		if (r->refused == 0 && r->output_len <= outsz) {
			memcpy(out, r->output, r->output_len);
			rv = r->output_len;
		} else
			log_warnx("key process: operation refused");
		imsg_free(&imsg);
		return rv;
	}
	log_warnx("key process: channel lost");
	keyop_up = 0;
	return -1;
}

static int
keyop_rsa_op(uint32_t type, int flen, const unsigned char *from,
    unsigned char *to, RSA *rsa, int padding)
{
	uint8_t	 keyid[KEYOP_ID_LEN];

	if (flen < 0 || padding < 0 || keyop_id_rsa(rsa, keyid) == -1)
		return -1;
	return keyop_ask(type, keyid, padding, from, flen, to, RSA_size(rsa));
}

static int
keyop_rsa_enc(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	return keyop_rsa_op(IMSG_KEY_RSA_PRIV_ENC, flen, from, to, rsa,
	    padding);
}

static int
keyop_rsa_dec(int flen, const unsigned char *from, unsigned char *to,
    RSA *rsa, int padding)
{
	return keyop_rsa_op(IMSG_KEY_RSA_PRIV_DEC, flen, from, to, rsa,
	    padding);
}

/* The answer is the DER signature, as ECDSA_sign() writes it. */
static int
keyop_ec_sign(int type, const unsigned char *dgst, int dlen,
    unsigned char *sig, unsigned int *siglen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	uint8_t	 keyid[KEYOP_ID_LEN];
	int	 n;

	if (dlen < 0 || keyop_id_ec(ec, keyid) == -1)
		return 0;
	n = keyop_ask(IMSG_KEY_ECDSA_SIGN, keyid, 0, dgst, dlen, sig,
	    ECDSA_size(ec));
	if (n <= 0)
		return 0;
	*siglen = n;
	return 1;
}

static ECDSA_SIG *
keyop_ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	unsigned char		 der[256];
	const unsigned char	*p = der;
	unsigned int		 len;

	if (ECDSA_size(ec) > (int)sizeof(der) ||
	    keyop_ec_sign(0, dgst, dlen, der, &len, kinv, r, ec) != 1)
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, len);
}
