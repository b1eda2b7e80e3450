//! Criterion benchmark of engine throughput: a generated 100 MB mixed source-text buffer (code, config,
//! notebooks' JSON, base64, a few planted keys) scanned with the full built-in rule set by each engine,
//! candidates + confirm (the engine's whole job per segment). Reports MB/s.
#[path = "../corpus/gen.rs"]
mod gen;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keysweep_detect::engine;
use keysweep_detect::selftest::engines;
use keysweep_rules::RuleSet;

fn buffer(size: usize) -> Vec<u8> {
    let mut r = gen::Rng::new(1);
    let mut out = Vec::with_capacity(size + 65536);
    while out.len() < size {
        match r.below(10) {
            0 => out.extend_from_slice(
                format!("OPENAI_API_KEY={}\n", gen::keys::openai_project(&mut r)).as_bytes(),
            ),
            1 => out.extend_from_slice(
                format!("\"image/png\": \"{}\",\n", r.string(gen::B64, 4096)).as_bytes(),
            ),
            2 => out.extend_from_slice(
                format!(
                    "  integrity: sha512-{}==\n  password: {}\n",
                    r.string(gen::B64, 86),
                    r.string(gen::ALNUM, 12)
                )
                .as_bytes(),
            ),
            _ => out.extend_from_slice(gen::filler_python(&mut r, 40).as_bytes()),
        }
    }
    out.truncate(size);
    out
}

fn bench(c: &mut Criterion) {
    let mb: usize = std::env::var("KEYSWEEP_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let hay = buffer(mb << 20);
    let rules = RuleSet::embedded();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Bytes(hay.len() as u64));
    g.sample_size(10);
    for kind in engines() {
        let (m, _) = engine::build(kind, &rules.rules).expect("engine");
        g.bench_function(
            format!("{kind:?}/{}-rules/{mb}MB", rules.rules.len()),
            |b| {
                b.iter(|| {
                    engine::find_all(m.as_ref(), &rules.rules, &hay)
                        .expect("scan")
                        .len()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
