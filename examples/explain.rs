fn main() {
    let p = std::env::args().nth(1).unwrap();
    let t = std::fs::read(p).unwrap();
    for l in keysweep::rules::selftest::explain(&keysweep::RuleSet::embedded(), &t).unwrap() {
        println!("{l}");
    }
}
