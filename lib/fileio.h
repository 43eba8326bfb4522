/*
 * Small file helpers shared by the programs that write files other
 * processes rely on (Maildir deliveries, table rewrites): durable
 * writes and directory syncs, and directories opened below a
 * directory fd.
 */

#ifndef TSAMBA_FILEIO_H
#define TSAMBA_FILEIO_H

#include <dirent.h>
#include <stddef.h>

/* write(2) everything; -1 on an error other than EINTR (errno set). */
int	write_all(int fd, const void *buf, size_t len);
/* fsync(2) the directory at path, keeping errno of a failure. */
int	fsync_dir(const char *path);
/* The same for path below the directory at (or AT_FDCWD). */
int	fsync_dir_at(int at, const char *path);
/* opendir(3) of path below at, not following a link at its end. */
DIR	*opendir_at(int at, const char *path);

#endif
