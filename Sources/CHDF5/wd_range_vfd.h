// A read-only libhdf5 file driver that sees one byte range of a file as a whole HDF5 file.
// WeightDrift opens every HDF5 file through it (the range being the whole file for a plain .h5).
//
// A `.keras` archive is a zip whose `model.weights.h5` member is stored uncompressed, so the
// member is a contiguous byte range of the archive. This driver lets libhdf5 open that range
// in place: no extraction to disk and no copy in memory. Reads are `pread` at
// `offset + addr`; nothing outside [offset, offset + length) is ever read, and writes fail.
//
// It lives in C because libhdf5's driver table is a C struct of function pointers whose
// layout is checked by the compiler against the installed headers (libhdf5 1.10 here).
#ifndef WEIGHTDRIFT_RANGE_VFD_H
#define WEIGHTDRIFT_RANGE_VFD_H

#include "/usr/include/hdf5/serial/hdf5.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if H5_VERSION_GE(1, 13, 0)
#error "wd_range_vfd.h is written against the libhdf5 1.10/1.12 driver table (Debian bookworm's libhdf5-dev)"
#endif

typedef struct wd_range_info {
    haddr_t offset;  // where the HDF5 image starts in the file
    haddr_t length;  // how many bytes it has
} wd_range_info;

typedef struct wd_range_file {
    H5FD_t pub;  // must come first: libhdf5 casts between the two
    int fd;
    dev_t device;
    ino_t inode;
    haddr_t offset;
    haddr_t length;
    haddr_t eoa;
} wd_range_file;

static inline void *wd_range_fapl_get(H5FD_t *file) {
    wd_range_file *f = (wd_range_file *)file;
    wd_range_info *info = (wd_range_info *)malloc(sizeof(wd_range_info));
    if (info == NULL) return NULL;
    info->offset = f->offset;
    info->length = f->length;
    return info;
}

static inline void *wd_range_fapl_copy(const void *old) {
    wd_range_info *info = (wd_range_info *)malloc(sizeof(wd_range_info));
    if (info == NULL) return NULL;
    memcpy(info, old, sizeof(wd_range_info));
    return info;
}

static inline herr_t wd_range_fapl_free(void *info) {
    free(info);
    return 0;
}

static inline H5FD_t *wd_range_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)maxaddr;
    if (name == NULL || (flags & H5F_ACC_RDWR) || (flags & H5F_ACC_CREAT) || (flags & H5F_ACC_TRUNC)) return NULL;
    const wd_range_info *info = (const wd_range_info *)H5Pget_driver_info(fapl);
    if (info == NULL) return NULL;
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below anyway.
    int fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        info->offset > (haddr_t)st.st_size || info->length > (haddr_t)st.st_size - info->offset) {
        close(fd);
        return NULL;
    }
    wd_range_file *f = (wd_range_file *)calloc(1, sizeof(wd_range_file));
    if (f == NULL) {
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->device = st.st_dev;
    f->inode = st.st_ino;
    f->offset = info->offset;
    f->length = info->length;
    f->eoa = 0;
    return &f->pub;
}

static inline herr_t wd_range_close(H5FD_t *file) {
    wd_range_file *f = (wd_range_file *)file;
    int rc = close(f->fd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static inline int wd_range_cmp(const H5FD_t *a, const H5FD_t *b) {
    const wd_range_file *x = (const wd_range_file *)a, *y = (const wd_range_file *)b;
    if (x->device != y->device) return x->device < y->device ? -1 : 1;
    if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return 0;
}

static inline herr_t wd_range_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    // The same read-side features as the default (sec2) driver: metadata aggregation and
    // accumulation, and data sieving for small raw reads.
    if (flags) *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
                        H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

static inline haddr_t wd_range_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const wd_range_file *)file)->eoa;
}

static inline herr_t wd_range_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    ((wd_range_file *)file)->eoa = addr;
    return 0;
}

static inline haddr_t wd_range_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const wd_range_file *)file)->length;
}

static inline herr_t wd_range_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
    (void)fapl;
    if (handle == NULL) return -1;
    *handle = &((wd_range_file *)file)->fd;
    return 0;
}

enum { WD_SINGLE_READ_LIMIT = 48 << 20 };

static inline herr_t wd_range_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buffer) {
    (void)type;
    (void)dxpl;
    wd_range_file *f = (wd_range_file *)file;
    unsigned char *out = (unsigned char *)buffer;
    if (addr == HADDR_UNDEF || addr > (haddr_t)0x7fffffffffffffffLL) return -1;
    // Like the default driver, a few bytes past the end of the image read as zeros (libhdf5 may
    // read a little ahead); a large read past the end is an error, so a damaged size field cannot
    // make libhdf5 fill gigabytes of memory with zeros.
    if (addr > f->length || size - (size_t)(f->length - addr < size ? f->length - addr : size) > (size_t)65536) return -1;
    // One read larger than this is refused before anything is read into memory. libhdf5 reads a
    // global heap collection (which holds a whole variable-length string) and a compressed chunk
    // in one piece, and passes the heap here as raw data: a 200 MB config string took it 1 GiB
    // to read. Weights are read in bounded slices, a chunk is at most 256 MiB decompressed.
    if (size > WD_SINGLE_READ_LIMIT) {
        H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS_g, H5E_VFL_g, H5E_READERROR_g,
                 "one read of %zu bytes (a heap of strings, a compressed chunk or an object header) is more than "
                 "the %d MiB read at once", size, WD_SINGLE_READ_LIMIT >> 20);
        return -1;
    }
    while (size > 0 && addr < f->length) {
        size_t n = size;
        if ((haddr_t)n > f->length - addr) n = (size_t)(f->length - addr);
        ssize_t got = pread(f->fd, out, n, (off_t)(f->offset + addr));
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (got == 0) break;
        out += got;
        addr += (haddr_t)got;
        size -= (size_t)got;
    }
    if (size > 0) memset(out, 0, size);
    return 0;
}

static inline herr_t wd_range_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size,
                                    const void *buffer) {
    (void)file; (void)type; (void)dxpl; (void)addr; (void)size; (void)buffer;
    return -1;  // read-only
}

static inline herr_t wd_range_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)file; (void)dxpl; (void)closing;
    return 0;  // nothing was written, so there is nothing to truncate
}

// Registers the driver once per process (the caller serialises calls) and returns its id.
static inline hid_t wd_range_driver_id(void) {
    static hid_t driver = H5I_INVALID_HID;
    if (driver >= 0 && H5Iis_valid(driver) > 0) return driver;
    static const H5FD_class_t cls = {
        "weightdrift_range",                      // name
        (haddr_t)0x7fffffffffffffffLL,            // maxaddr
        H5F_CLOSE_WEAK,                           // fc_degree
        NULL,                                     // terminate
        NULL, NULL, NULL,                         // sb_size, sb_encode, sb_decode
        sizeof(wd_range_info),                    // fapl_size
        wd_range_fapl_get, wd_range_fapl_copy, wd_range_fapl_free,
        0, NULL, NULL,                            // dxpl_size, dxpl_copy, dxpl_free
        wd_range_open, wd_range_close, wd_range_cmp, wd_range_query,
        NULL,                                     // get_type_map
        NULL, NULL,                               // alloc, free
        wd_range_get_eoa, wd_range_set_eoa, wd_range_get_eof, wd_range_get_handle,
        wd_range_read, wd_range_write,
        NULL,                                     // flush
        wd_range_truncate,
        NULL, NULL,                               // lock, unlock
        H5FD_FLMAP_DICHOTOMY,
    };
    driver = H5FDregister(&cls);
    return driver;
}

// Sets `fapl` to read the byte range [offset, offset + length) of the file as an HDF5 file.
static inline herr_t wd_range_set_fapl(hid_t fapl, haddr_t offset, haddr_t length) {
    hid_t driver = wd_range_driver_id();
    if (driver < 0) return -1;
    wd_range_info info = {offset, length};
    return H5Pset_driver(fapl, driver, &info);
}

#endif
