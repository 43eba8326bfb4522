/*
 * Small durable-write helpers shared by the programs that write files
 * other processes rely on (Maildir deliveries, table rewrites).
 */

#ifndef TSAMBA_FILEIO_H
#define TSAMBA_FILEIO_H

#include <stddef.h>

/* write(2) everything; -1 on an error other than EINTR (errno set). */
int	write_all(int fd, const void *buf, size_t len);
/* fsync(2) the directory at path, keeping errno of a failure. */
int	fsync_dir(const char *path);

#endif
