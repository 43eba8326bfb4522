/*
 * The parent's half of a network engine with certificates and a key
 * process (smtpd, imapd): each pki's private key goes to the key
 * process, its certificate to the engine once the key is in, and the
 * engine is told to accept when the last key of the start is in.
 * SIGHUP calls engine_tls_load() again; sessions keep their context.
 * The engine's half is tls_ctx_load_fd() (tls_ctx.h).
 */

#ifndef TSAMBA_ENGINE_TLS_H
#define TSAMBA_ENGINE_TLS_H

struct channel;
struct conf;
struct conf_pki;
struct msg_key_loaded;

struct engine_tls {
	struct conf		*conf;
	struct channel		*keys;		/* to the key process */
	/* Queue pki's certificate file fd to the engine: 0, or -1. */
	int			(*send_cert)(const struct conf_pki *, int fd);
	/* Queue READY to the engine: 0, or -1. */
	int			(*send_ready)(void);
	int			 pending;	/* KEY_LOADED due */
	int			 ready_sent;
};

/*
 * The channel to the key process (et->keys) on fd, saying us in its
 * HELLO: KEY_LOADED goes to engine_tls_key_loaded(), a drop to down.
 */
void	engine_tls_attach(struct engine_tls *, int fd, const char *us,
	    void (*down)(struct channel *, void *));
/* Every pki checked apart from this process: 0, or -1 (logged). */
int	engine_tls_check(const struct engine_tls *);
/*
 * Each private key file to the key process.  At start (start 1) every
 * pki was checked already and a failure is fatal; on reload a pki that
 * fails its check keeps the old certificate and key.
 */
void	engine_tls_load(struct engine_tls *, int start);
/* The key process has the key of a pki (KEY_LOADED), or refused it. */
void	engine_tls_key_loaded(struct engine_tls *,
	    const struct msg_key_loaded *);

#endif
