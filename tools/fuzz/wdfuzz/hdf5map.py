"""HDF5 structure map: signatures, v0/v1 superblock, v1 object headers and their messages,
v1 B-trees, symbol nodes, local and global heaps. Best effort on any bytes."""

from __future__ import annotations

from .util import u16, u32, u64

HDF5_SIG = b"\x89HDF\r\n\x1a\n"
H5_SIGNATURES = [b"OHDR", b"OCHK", b"TREE", b"HEAP", b"SNOD", b"GCOL", b"FRHP", b"FHDB", b"FHIB",
                 b"FSHD", b"FSSE", b"BTHD", b"BTIN", b"BTLF", b"SMTB", b"SMLI", HDF5_SIG]


class H5Map:
    def __init__(self, data: bytes):
        self.d = data
        self.n = len(data)
        self.sigs: list[tuple[int, bytes]] = []
        self.ohdrs: list[int] = []
        self.group_ohdrs: list[int] = []
        self.msgs: list[tuple[int, int, int, int]] = []  # (type, header offset, data offset, size)
        self.fields: list[tuple[int, int, str]] = []  # (offset, width, label)
        self.snod_entries: list[tuple[int, int]] = []  # (entry offset, parent group ohdr)
        self.addrs: list[int] = []
        self.base = 0
        try:
            self._parse()
        except Exception:
            pass

    def _find_sigs(self):
        for sig in H5_SIGNATURES:
            start = 0
            while len(self.sigs) < 20000:
                i = self.d.find(sig, start)
                if i < 0:
                    break
                self.sigs.append((i, sig))
                start = i + 1

    def _ok(self, off, width=1):
        return 0 <= off and off + width <= self.n

    def _parse(self):
        self._find_sigs()
        d = self.d
        sb = -1
        for cand in (0, 512, 1024, 2048, 4096):
            if d[cand:cand + 8] == HDF5_SIG:
                sb = cand
                break
        for g, sig in self.sigs:
            if sig == b"GCOL" and self._ok(g, 16):
                self.fields += [(g + 4, 1, "gcol.version"), (g + 8, 8, "gcol.size")]
                end = min(self.n, g + u64(d, g + 8))
                o = g + 16
                for _ in range(4096):
                    if o + 16 > end:
                        break
                    idx, size = u16(d, o), u64(d, o + 8)
                    self.fields += [(o, 2, "gobj.index"), (o + 2, 2, "gobj.refcount"), (o + 8, 8, "gobj.size")]
                    if idx == 0:
                        break
                    o += 16 + ((size + 7) & ~7)
        if sb < 0:
            return
        ver = d[sb + 8]
        for i in range(8, 24):
            self.fields.append((sb + i, 1, "sb.byte%d" % i))
        if ver in (0, 1):
            off = sb + 24 + (4 if ver == 1 else 0)
            self.fields += [(sb + 16, 2, "sb.leafK"), (sb + 18, 2, "sb.internalK"), (sb + 20, 4, "sb.flags"),
                            (off, 8, "sb.base"), (off + 8, 8, "sb.freespace"), (off + 16, 8, "sb.eof"),
                            (off + 24, 8, "sb.driver")]
            self.base = u64(d, off) if u64(d, off) < self.n else 0
            root = off + 32
            self.fields += [(root, 8, "root.name"), (root + 8, 8, "root.ohdr"), (root + 16, 4, "root.cache"),
                            (root + 24, 8, "root.btree"), (root + 32, 8, "root.heap")]
            root_oh = u64(d, root + 8)
        elif ver in (2, 3):
            self.fields += [(sb + 12, 8, "sb.base"), (sb + 20, 8, "sb.ext"), (sb + 28, 8, "sb.eof"),
                            (sb + 36, 8, "sb.root")]
            root_oh = u64(d, sb + 36)
        else:
            return
        self.addrs.append(root_oh)
        queue = [(root_oh, None)]
        seen = set()
        while queue and len(seen) < 4000:
            addr, parent = queue.pop()
            a = addr + self.base
            if a in seen or not self._ok(a, 16):
                continue
            seen.add(a)
            self._parse_ohdr(a, parent, queue)

    def _parse_ohdr(self, a, parent, queue):
        d = self.d
        if d[a:a + 4] == b"OHDR":
            self.ohdrs.append(a)
            return
        if d[a] != 1:
            return
        self.ohdrs.append(a)
        self.fields += [(a, 1, "oh.version"), (a + 2, 2, "oh.nmsgs"), (a + 4, 4, "oh.refcount"), (a + 8, 4, "oh.size")]
        blocks = [(a + 16, u32(d, a + 8))]
        is_group = False
        done_blocks = 0
        while blocks and done_blocks < 64:
            start, size = blocks.pop()
            done_blocks += 1
            p, end = start, min(start + size, self.n)
            count = 0
            while p + 8 <= end and count < 512:
                count += 1
                mtype, msize = u16(d, p), u16(d, p + 2)
                data = p + 8
                self.msgs.append((mtype, p, data, msize))
                self.fields += [(p, 2, "msg.type"), (p + 2, 2, "msg.size"), (p + 4, 1, "msg.flags")]
                if mtype == 0x10 and self._ok(data, 16):  # continuation
                    self.fields += [(data, 8, "cont.addr"), (data + 8, 8, "cont.len")]
                    blocks.append((u64(d, data) + self.base, u64(d, data + 8)))
                elif mtype == 0x11 and self._ok(data, 16):  # symbol table: v1 B-tree + local heap
                    is_group = True
                    self.fields += [(data, 8, "symtab.btree"), (data + 8, 8, "symtab.heap")]
                    self._parse_heap(u64(d, data + 8) + self.base)
                    self._parse_group_tree(u64(d, data) + self.base, a, queue, 0)
                elif mtype == 0x01 and self._ok(data, 8):  # dataspace
                    rank = d[data + 1]
                    self.fields += [(data, 1, "space.version"), (data + 1, 1, "space.rank"), (data + 2, 1, "space.flags")]
                    dims = data + (8 if d[data] == 1 else 4)
                    for i in range(min(rank, 32) * (2 if d[data + 2] & 1 else 1)):
                        self.fields.append((dims + 8 * i, 8, "space.dim"))
                elif mtype == 0x03 and self._ok(data, 8):  # datatype
                    self.fields += [(data, 1, "type.classver"), (data + 1, 1, "type.bits0"), (data + 2, 1, "type.bits1"),
                                    (data + 4, 4, "type.size")]
                    if self._ok(data, 12):
                        self.fields += [(data + 8, 2, "type.offset"), (data + 10, 2, "type.precision")]
                    if self._ok(data, 16):
                        self.fields += [(data + 12, 1, "type.exppos"), (data + 13, 1, "type.expsize"),
                                        (data + 14, 1, "type.manpos"), (data + 15, 1, "type.mansize")]
                elif mtype == 0x08 and self._ok(data, 4):  # layout
                    self.fields += [(data, 1, "layout.version"), (data + 1, 1, "layout.class")]
                    if d[data] == 3:
                        cls = d[data + 1]
                        if cls == 1:
                            self.fields += [(data + 2, 8, "layout.addr"), (data + 10, 8, "layout.size")]
                            if self._ok(data + 2, 8):
                                self.addrs.append(u64(d, data + 2))
                        elif cls == 2:
                            ndim = d[data + 2]
                            self.fields += [(data + 2, 1, "layout.ndims"), (data + 3, 8, "layout.btree")]
                            for i in range(min(ndim, 33)):
                                self.fields.append((data + 11 + 4 * i, 4, "layout.chunkdim"))
                            if self._ok(data + 3, 8):
                                self._parse_chunk_tree(u64(d, data + 3) + self.base, ndim, 0)
                        elif cls == 0:
                            self.fields += [(data + 2, 2, "layout.compactsize")]
                elif mtype == 0x0C and self._ok(data, 8):  # attribute
                    self.fields += [(data, 1, "attr.version"), (data + 2, 2, "attr.namelen"),
                                    (data + 4, 2, "attr.typelen"), (data + 6, 2, "attr.spacelen")]
                    if d[data] == 1:
                        nl, tl = u16(d, data + 2), u16(d, data + 4)
                        pad = lambda x: (x + 7) & ~7
                        t = data + 8 + pad(nl)
                        s = t + pad(tl)
                        self.fields += [(t, 1, "attr.type.classver"), (t + 4, 4, "attr.type.size"),
                                        (s + 1, 1, "attr.space.rank")]
                        for i in range(2):
                            self.fields.append((s + 8 + 8 * i, 8, "attr.space.dim"))
                elif mtype == 0x0B and self._ok(data, 8):  # filter pipeline
                    self.fields += [(data, 1, "filters.version"), (data + 1, 1, "filters.count"),
                                    (data + 8, 2, "filter.id"), (data + 10, 2, "filter.namelen"),
                                    (data + 12, 2, "filter.flags"), (data + 14, 2, "filter.nvalues")]
                elif mtype == 0x05 and self._ok(data, 4):  # fill value
                    self.fields += [(data, 1, "fill.version"), (data + 1, 1, "fill.alloc"), (data + 3, 1, "fill.defined")]
                p = data + ((msize + 7) & ~7 if msize else 0)
                if msize == 0:
                    p = data
                    break
        if is_group:
            self.group_ohdrs.append(a)

    def _parse_heap(self, h):
        if self._ok(h, 32) and self.d[h:h + 4] == b"HEAP":
            self.fields += [(h + 4, 1, "heap.version"), (h + 8, 8, "heap.datasize"), (h + 16, 8, "heap.freelist"),
                            (h + 24, 8, "heap.dataaddr")]

    def _parse_group_tree(self, t, parent, queue, depth):
        d = self.d
        if depth > 8 or not self._ok(t, 24) or d[t:t + 4] != b"TREE":
            return
        self.fields += [(t + 4, 1, "tree.type"), (t + 5, 1, "tree.level"), (t + 6, 2, "tree.entries"),
                        (t + 8, 8, "tree.left"), (t + 16, 8, "tree.right")]
        level, entries = d[t + 5], u16(d, t + 6)
        p = t + 24
        for _ in range(min(entries, 256)):
            if not self._ok(p, 16):
                break
            self.fields += [(p, 8, "tree.key"), (p + 8, 8, "tree.child")]
            child = u64(d, p + 8) + self.base
            if level > 0:
                self._parse_group_tree(child, parent, queue, depth + 1)
            else:
                self._parse_snod(child, parent, queue)
            p += 16

    def _parse_snod(self, s, parent, queue):
        d = self.d
        if not self._ok(s, 8) or d[s:s + 4] != b"SNOD":
            return
        self.fields += [(s + 4, 1, "snod.version"), (s + 6, 2, "snod.count")]
        for i in range(min(u16(d, s + 6), 256)):
            e = s + 8 + 40 * i
            if not self._ok(e, 40):
                break
            self.snod_entries.append((e, parent))
            self.fields += [(e, 8, "entry.name"), (e + 8, 8, "entry.ohdr"), (e + 16, 4, "entry.cache"),
                            (e + 24, 8, "entry.scratch0"), (e + 32, 8, "entry.scratch1")]
            oh = u64(d, e + 8)
            self.addrs.append(oh)
            queue.append((oh, parent))

    def _parse_chunk_tree(self, t, ndim, depth):
        d = self.d
        if depth > 8 or not self._ok(t, 24) or d[t:t + 4] != b"TREE":
            return
        self.fields += [(t + 4, 1, "ctree.type"), (t + 5, 1, "ctree.level"), (t + 6, 2, "ctree.entries"),
                        (t + 8, 8, "ctree.left"), (t + 16, 8, "ctree.right")]
        level, entries = d[t + 5], u16(d, t + 6)
        keysize = 8 + 8 * ndim
        p = t + 24
        for _ in range(min(entries, 512)):
            if not self._ok(p, keysize + 8):
                break
            self.fields += [(p, 4, "ckey.size"), (p + 4, 4, "ckey.mask")]
            for i in range(ndim):
                self.fields.append((p + 8 + 8 * i, 8, "ckey.offset"))
            child = u64(d, p + keysize) + self.base
            self.fields.append((p + keysize, 8, "ctree.child"))
            if level > 0:
                self._parse_chunk_tree(child, ndim, depth + 1)
            p += keysize + 8

    def hot_offsets(self):
        offs = [o for o, _ in self.sigs] + self.ohdrs + [m[1] for m in self.msgs]
        return offs or [0]
