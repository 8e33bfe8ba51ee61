// h5py's LZF filter (HDF5 filter id 32000), decode only, over Debian's liblzf (liblzf-dev).
//
// h5py writes LZF-compressed datasets with `compression="lzf"`: each chunk is one LZF block
// (no header), and the third client value (cd_values[2]) is the chunk's size in bytes. A chunk
// LZF could not shrink is stored as is with the filter's bit set in the chunk's filter mask,
// so libhdf5 never hands it to this function. Registered in-process (H5Zregister) — not a
// plugin: plugin loading stays off.
//
// Strict, because libhdf5 trusts what a filter returns: the chunk must decode to exactly its
// size as h5py recorded it (cd_values[2]; h5py always records it, edge chunks included), at most
// `WD_LZF_LIMIT` (the largest chunk WeightDrift reads) however large the record claims.
// lzf_decompress checks every input and output position and returns 0 instead of reading or
// writing outside its buffers. Any failure returns 0: libhdf5 reports the read as failed.
#ifndef WEIGHTDRIFT_LZF_FILTER_H
#define WEIGHTDRIFT_LZF_FILTER_H

#include <limits.h>
#include <liblzf/lzf.h>

#define WD_LZF_FILTER_ID 32000
#define WD_LZF_LIMIT ((size_t)256 << 20)

// Says why on libhdf5's error stack (the caller names the file and dataset).
static inline size_t wd_lzf_fail(const char *why) {
    H5Epush2(H5E_DEFAULT, __FILE__, "wd_lzf_filter", __LINE__, H5E_ERR_CLS, H5E_PLINE, H5E_CANTFILTER, "%s", why);
    return 0;
}

static inline size_t wd_lzf_filter(unsigned int flags, size_t cd_nelmts, const unsigned int cd_values[],
                                   size_t nbytes, size_t *buf_size, void **buf) {
    if (!(flags & H5Z_FLAG_REVERSE)) return wd_lzf_fail("lzf: WeightDrift only reads");
    if (cd_nelmts < 3 || cd_values[2] == 0) return wd_lzf_fail("lzf: no chunk size recorded");
    if ((size_t)cd_values[2] > WD_LZF_LIMIT) return wd_lzf_fail("lzf: recorded chunk size above 256 MiB");
    if (nbytes == 0 || nbytes > UINT_MAX) return wd_lzf_fail("lzf: empty or oversized stored chunk");
    size_t size = (size_t)cd_values[2];
    void *out = H5allocate_memory(size, 0);
    if (out == NULL) return wd_lzf_fail("lzf: out of memory");
    unsigned int written = lzf_decompress(*buf, (unsigned int)nbytes, out, (unsigned int)size);
    if (written != size) {
        H5free_memory(out);
        return wd_lzf_fail("lzf: the chunk does not decode to its recorded size");
    }
    H5free_memory(*buf);
    *buf = out;
    *buf_size = size;
    return size;
}

/// Registers the decoder once; returns what H5Zregister returns (negative on failure).
static inline herr_t wd_register_lzf(void) {
    static const H5Z_class2_t lzf_class = {
        H5Z_CLASS_T_VERS, (H5Z_filter_t)WD_LZF_FILTER_ID, 1, 1, "lzf (WeightDrift, decode only)", NULL, NULL,
        (H5Z_func_t)wd_lzf_filter,
    };
    return H5Zregister(&lzf_class);
}

#endif
