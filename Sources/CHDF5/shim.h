// The C surface of libhdf5 that the HDF5 Swift module uses.
//
// Swift cannot import function-like macros, casts in macros, or the `_g` globals behind
// `H5T_NATIVE_*` (Swift 6 rejects mutable C globals as not concurrency-safe), so each one
// gets a `static inline` accessor here with a one-line reason. Nothing else lives here
// except the read-only "byte range" file driver in wd_range_vfd.h, the crash guard in
// wd_guard.h and h5py's LZF decoder in wd_lzf_filter.h.
#ifndef WEIGHTDRIFT_CHDF5_SHIM_H
#define WEIGHTDRIFT_CHDF5_SHIM_H

// Debian's libhdf5-dev (serial) keeps its headers here, off the default include path; naming the
// path is what pkg-config would add, without also linking the shared library (see module.modulemap).
#include "/usr/include/hdf5/serial/hdf5.h"
#include <stdint.h>
#include <malloc.h>
// zlib (a dependency of libhdf5-dev) inflates DEFLATE members of re-zipped .keras archives.
#include <zlib.h>

// H5P_DEFAULT is `0 /* (hid_t) */` and imports as Int32; hid_t is int64_t.
static inline hid_t wd_H5P_DEFAULT(void) { return H5P_DEFAULT; }
// H5S_ALL is a cast macro `(hid_t)0`.
static inline hid_t wd_H5S_ALL(void) { return H5S_ALL; }
// H5E_DEFAULT imports as Int32, like H5P_DEFAULT.
static inline hid_t wd_H5E_DEFAULT(void) { return H5E_DEFAULT; }
// H5F_ACC_RDONLY expands to H5CHECK/H5OPEN calls, which Swift cannot import.
static inline unsigned wd_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
// For the tests that write hostile files with the library itself.
static inline unsigned wd_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
// H5P_FILE_ACCESS reads the global H5P_CLS_FILE_ACCESS_ID_g after H5open().
static inline hid_t wd_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
// The access-list classes read `_g` globals after H5open().
static inline hid_t wd_H5P_LINK_ACCESS(void) { return H5P_LINK_ACCESS; }
static inline hid_t wd_H5P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }
static inline hid_t wd_H5P_GROUP_ACCESS(void) { return H5P_GROUP_ACCESS; }
// H5T_NATIVE_* read `_g` globals after H5open(); Swift 6 rejects those globals.
static inline hid_t wd_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t wd_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t wd_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t wd_H5T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t wd_H5T_C_S1(void) { return H5T_C_S1; }
// H5T_VARIABLE is `((size_t)(-1))`.
static inline size_t wd_H5T_VARIABLE(void) { return H5T_VARIABLE; }
// HADDR_UNDEF depends on the platform's haddr_t width.
static inline haddr_t wd_HADDR_UNDEF(void) { return HADDR_UNDEF; }

// Turns off libhdf5's automatic error printing for the calling thread (a per-thread setting in a
// thread-safe build), once per thread: a thread-local flag is cheaper than the call.
static inline void wd_silence_this_thread(void) {
    static _Thread_local int silenced = 0;
    if (!silenced) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        silenced = 1;
    }
}

// An external-link traversal callback that refuses: an external link would open a file the
// user did not name. Swift could define it too, but a C function pointer is simplest here.
static inline herr_t wd_refuse_external_link(const char *parent_file, const char *parent_group,
                                             const char *child_file, const char *child_object,
                                             unsigned *acc_flags, hid_t fapl, void *data) {
    (void)parent_file; (void)parent_group; (void)child_file; (void)child_object;
    (void)acc_flags; (void)fapl; (void)data;
    return -1;
}
static inline herr_t wd_refuse_external_links(hid_t access_list) {
    return H5Pset_elink_cb(access_list, wd_refuse_external_link, NULL);
}

// The metadata cache's size (H5AC_cache_config_t has a version field to fill in first, and a
// 1 KiB file name): at most `max_bytes`, starting at and never below `min_bytes`.
static inline herr_t wd_limit_metadata_cache(hid_t access_list, size_t min_bytes, size_t max_bytes) {
    H5AC_cache_config_t config;
    config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(access_list, &config) < 0) return -1;
    config.set_initial_size = 1;
    config.initial_size = min_bytes;
    config.min_size = min_bytes;
    config.max_size = max_bytes;
    return H5Pset_mdc_config(access_list, &config);
}

// glibc's malloc_trim, which Swift's Glibc module does not export: gives the pages of memory
// freed so far (in every malloc arena) back to the system.
static inline int wd_release_freed_memory(void) { return malloc_trim(0); }

// inflateInit2 is a macro over inflateInit2_ with the library's version and struct size.
static inline int wd_inflateInit2(z_stream *stream, int windowBits) { return inflateInit2(stream, windowBits); }

#include "wd_range_vfd.h"
#include "wd_guard.h"
#include "wd_lzf_filter.h"

#endif
