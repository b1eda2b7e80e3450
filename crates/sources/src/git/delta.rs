//! Git's pack delta format: applying one delta to its base. It owns the one step the history pass's pack
//! reader repeats most (each tree version built from the previous one), written here because gix keeps its
//! own applier private to its decoder, and its decoder copies the base and the result around several times
//! per delta. Deltas come from pack files and are hostile input: every size and range is checked, and a
//! malformed delta gives `None`, never a panic or a short result.
//!
//! Format: two sizes (base, result) as little-endian base-128 varints, then instructions. An instruction
//! byte with the high bit set copies a range of the base (bits 0-3 say which offset bytes follow, bits 4-6
//! which size bytes; a size of 0 means 0x10000); a byte 1..=127 inserts that many following bytes; 0 is
//! reserved.

/// Largest result this applier builds (larger ones are left to gix's decoder and its limits).
pub const MAX_RESULT: u64 = 1 << 30;

/// A varint size at the start of `d`: (value, bytes used).
fn size(d: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in d.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The result size a delta declares, or `None` when its header is malformed.
pub fn result_size(delta: &[u8]) -> Option<u64> {
    let (_, used) = size(delta)?;
    Some(size(delta.get(used..)?)?.0)
}

/// Apply `delta` to `base`, writing the result into `out` (cleared first). `None` when the delta does not
/// fit the base or is malformed; `out` then holds no meaningful data.
pub fn apply(base: &[u8], delta: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let (base_len, a) = size(delta)?;
    let (result_len, b) = size(delta.get(a..)?)?;
    if base_len != base.len() as u64 || result_len > MAX_RESULT {
        return None;
    }
    let result_len = usize::try_from(result_len).ok()?;
    out.try_reserve_exact(result_len).ok()?;
    let mut ops = delta.get(a + b..)?.iter();
    while let Some(&op) = ops.next() {
        if op & 0x80 != 0 {
            let mut field = |bits: u8, first_shift: u32| -> Option<usize> {
                let mut v = 0usize;
                for k in 0..bits {
                    if op & (1 << (first_shift + u32::from(k))) != 0 {
                        v |= usize::from(*ops.next()?) << (8 * k);
                    }
                }
                Some(v)
            };
            let offset = field(4, 0)?;
            let len = match field(3, 4)? {
                0 => 0x10000,
                n => n,
            };
            let range = base.get(offset..offset.checked_add(len)?)?;
            if out.len() + range.len() > result_len {
                return None;
            }
            out.extend_from_slice(range);
        } else if op != 0 {
            let len = usize::from(op);
            let rest = ops.as_slice();
            let bytes = rest.get(..len)?;
            if out.len() + len > result_len {
                return None;
            }
            out.extend_from_slice(bytes);
            ops = rest[len..].iter();
        } else {
            return None;
        }
    }
    (out.len() == result_len).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn header(base: usize, result: usize) -> Vec<u8> {
        let mut d = Vec::new();
        varint(base, &mut d);
        varint(result, &mut d);
        d
    }

    #[test]
    fn copies_and_inserts() {
        let base = b"hello, world of deltas";
        let mut d = header(base.len(), 13);
        // copy base[7..12] ("world"), insert " says", copy base[5..7] (", ") -> "world says, "
        d.extend_from_slice(&[0x80 | 0x01 | 0x10, 7, 5]);
        d.extend_from_slice(&[5, b' ', b's', b'a', b'y', b's']);
        d.extend_from_slice(&[0x80 | 0x01 | 0x10, 5, 2]);
        let mut out = Vec::new();
        assert!(apply(base, &d, &mut out).is_none(), "12 bytes, 13 declared");
        let mut d2 = header(base.len(), 12);
        d2.extend_from_slice(&d[2..]);
        assert_eq!(apply(base, &d2, &mut out), Some(()));
        assert_eq!(out, b"world says, ");
        assert_eq!(result_size(&d2), Some(12));
    }

    #[test]
    fn a_zero_size_copies_64k() {
        let base = vec![7u8; 0x10000 + 3];
        let mut d = header(base.len(), 0x10000);
        d.push(0x80); // offset 0, size 0 => 0x10000
        let mut out = Vec::new();
        assert_eq!(apply(&base, &d, &mut out), Some(()));
        assert_eq!(out.len(), 0x10000);
    }

    #[test]
    fn rejects_malformed_deltas() {
        let base = b"0123456789";
        let mut out = Vec::new();
        let bad: Vec<Vec<u8>> = vec![
            vec![],                                                   // no header
            vec![0x80],                                               // truncated varint
            [header(9, 1), vec![1, b'x']].concat(),                   // wrong base size
            [header(10, 1), vec![0]].concat(),                        // reserved opcode
            [header(10, 5), vec![5, b'a']].concat(),                  // truncated insert
            [header(10, 4), vec![0x80 | 0x01 | 0x10, 8, 4]].concat(), // copy past the base
            [header(10, 4), vec![0x80 | 0x01 | 0x10, 8]].concat(),    // truncated copy
            [header(10, 2), vec![3, b'a', b'b', b'c']].concat(),      // result overflow
            [header(10, usize::MAX >> 1), vec![1, b'a']].concat(),    // absurd result size
        ];
        for d in bad {
            assert!(apply(base, &d, &mut out).is_none(), "{d:?}");
        }
        let offset_overflow = [
            header(10, 1),
            vec![0x80 | 0x0f | 0x70, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ]
        .concat();
        assert!(apply(base, &offset_overflow, &mut out).is_none());
    }
}
