//! `cargo run --release --example gen_corpus -- DIR [BYTES]`: write the labelled corpus to DIR (and, with
//! BYTES, a bulk tree of about that many bytes for throughput benchmarks); labels go to DIR/labels.jsonl.
#[path = "../corpus/gen.rs"]
mod gen;

use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "corpus/generated".into()));
    let bytes: u64 = args.next().and_then(|b| b.parse().ok()).unwrap_or(0);
    let planted = if bytes > 0 {
        gen::generate_bulk(&dir, bytes, 7)?
    } else {
        gen::generate(&dir, 7)?
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("labels.jsonl"))?);
    for p in &planted {
        writeln!(
            f,
            "{}",
            serde_json::json!({"rule": p.rule, "secret": p.secret, "path": p.path})
        )?;
    }
    eprintln!(
        "wrote {} planted secrets to {}",
        planted.len(),
        dir.display()
    );
    Ok(())
}
