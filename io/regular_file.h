/* Opening input files that must be regular files. open() on a FIFO blocks
 * until a writer comes, and pipes, sockets, devices and /dev/fd/N cannot be
 * sized or mapped, so they are refused before open() by their type. */
#ifndef DG_IO_REGULAR_FILE_H
#define DG_IO_REGULAR_FILE_H

#include <stddef.h>

/* Open path read-only (close-on-exec) into *fd and give its size; anything
 * but a regular file is refused with a message naming the path and its type. */
int dg_regular_file_open(const char *path, int *fd, size_t *size);

#endif
