//! Archive fixtures shared by the archive and image tests: tar (names written verbatim, so hostile `../x`
//! names are possible), gzip, zstd and zip, all in memory.
use std::io::Write;

/// A tar of (path, content) regular files. Paths of up to 100 bytes are written verbatim into the header (so
/// `../x` is possible); longer ones get a GNU long-name entry.
pub fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let name = path.as_bytes();
        if name.len() <= 100 {
            h.as_gnu_mut().expect("a GNU header").name[..name.len()].copy_from_slice(name);
            h.set_cksum();
            b.append(&h, *data).expect("tar entry");
        } else {
            h.set_cksum();
            b.append_data(&mut h, path, *data).expect("tar entry");
        }
    }
    b.into_inner().expect("tar")
}

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

pub fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

/// A zip of (name, content) members, deflated.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).expect("zip member");
        w.write_all(data).expect("zip member");
    }
    w.finish().expect("zip").into_inner()
}
