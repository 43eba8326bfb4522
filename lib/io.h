/*
 * Non-blocking buffered I/O on a socket, plain or libtls, driven by
 * libevent, for line protocols (SMTP, LMTP, later IMAP and POP3).  Input
 * lines have a hard length limit; output is buffered and flushed when the
 * socket allows.
 */

#ifndef TSAMBA_IO_H
#define TSAMBA_IO_H

#include <stddef.h>
#include <stdarg.h>

struct tls;
struct io;
struct timespec;

enum io_event {
	IO_DATAIN,		/* new input buffered */
	IO_LOWAT,		/* output queue drained to the low mark */
	IO_TLSREADY,		/* TLS handshake done */
	IO_TIMEOUT,		/* no I/O for the configured time */
	IO_DISCONNECTED,	/* peer closed */
	IO_ERROR,		/* see io_error() */
};

typedef void (*io_cb)(struct io *, int event, void *arg);

/* Takes ownership of fd (non-blocking is set here). */
struct io	*io_new(int fd, io_cb, void *arg);
/* Closes the fd and, if any, the TLS session. */
void		 io_free(struct io *);
void		 io_set_timeout(struct io *, int msec);	/* 0 = none */
void		 io_set_maxline(struct io *, size_t);	/* default 1000 */
void		 io_set_lowat(struct io *, size_t);	/* default 0 */
void		 io_set_release(struct io *);	/* free idle input buffer */
/* Stop and restart reading (flow control while a reply is pending). */
void		 io_pause_read(struct io *);
void		 io_resume_read(struct io *);
/* Read events are also stopped while more than this is queued out. */
void		 io_set_output_limit(struct io *, size_t);

int		 io_write(struct io *, const void *, size_t);
int		 io_print(struct io *, const char *);
int		 io_printf(struct io *, const char *, ...)
		    __attribute__((__format__ (printf, 2, 3)));
int		 io_vprintf(struct io *, const char *, va_list)
		    __attribute__((__format__ (printf, 2, 0)));
size_t		 io_queued(struct io *);	/* output bytes pending */
/*
 * For a process about to exit: write out what is queued, blocking until
 * deadline at most (CLOCK_MONOTONIC), calling no callback.  0 when all
 * of it went, -1 otherwise (timeout, error, TLS handshake under way).
 */
int		 io_flush_until(struct io *, const struct timespec *deadline);

/*
 * Next complete input line, without its CRLF or LF, NUL-terminated, valid
 * until the next io call; NULL if none is complete yet.  *len is its
 * length.  A line longer than the limit is returned once, truncated to
 * the limit, with *toolong set, and the rest of it up to its LF is
 * discarded.  *bare is set if the line ended in a bare LF or holds a bare
 * CR (SMTP smuggling).
 */
char		*io_getline(struct io *, size_t *len, int *toolong, int *bare);
/* Raw input (BDAT chunks, DATA fast path). */
size_t		 io_datalen(struct io *);
const void	*io_data(struct io *);
void		 io_drain(struct io *, size_t);

/*
 * Begin TLS as the server side (STARTTLS, implicit TLS).  Buffered input
 * is discarded (cleartext pipelined behind STARTTLS); queued output is
 * sent in clear first.
 */
int		 io_start_tls_server(struct io *, struct tls *server_ctx);
/*
 * Begin TLS as the client side (servername may be NULL).  On success the
 * io owns client_ctx (libtls connects on that context itself) and
 * io_free() frees it.
 */
int		 io_start_tls_client(struct io *, struct tls *client_ctx,
		    const char *servername);
int		 io_is_tls(struct io *);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or NULL. */
const char	*io_tls_info(struct io *);
const char	*io_error(struct io *);

#endif
