/* LNE runtime: status codes returned by every generated bundle's C API. C and C++. */
#ifndef LNE_STATUS_H
#define LNE_STATUS_H

enum lne_status {
  LNE_OK = 0,
  LNE_ERR_NULL_ARGUMENT = 1,      /* a required pointer is NULL */
  LNE_ERR_ALIGNMENT = 2,          /* weights or arena not aligned to 64 bytes */
  LNE_ERR_ARENA_TOO_SMALL = 3,    /* arena_size < <NAME>_ARENA_SIZE */
  LNE_ERR_WEIGHTS_SIZE = 4,       /* weights_size != <NAME>_WEIGHTS_SIZE */
  LNE_ERR_WEIGHTS_FORMAT = 5,     /* the blob is not an LNE weights file */
  LNE_ERR_WEIGHTS_MISMATCH = 6,   /* the blob belongs to another model or build */
  LNE_ERR_NOT_INITIALIZED = 7     /* run() on a context that init() did not accept */
};

#endif
