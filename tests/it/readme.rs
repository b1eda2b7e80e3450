//! The README's provider table is generated from the catalogue: this test fails when it is stale.
//! Regenerate with `KEYSWEEP_BLESS=1 cargo test --test readme`.
use keysweep_rules::RuleSet;
use std::collections::BTreeMap;

fn table() -> String {
    let rules = RuleSet::embedded();
    let mut by_cat: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for r in &rules.rules {
        *by_cat
            .entry(&r.spec.category)
            .or_default()
            .entry(&r.spec.provider)
            .or_default() += 1;
    }
    let mut s = format!(
        "{} rules for {} providers.\n\n| category | providers (rules) |\n|---|---|\n",
        rules.rules.len(),
        by_cat.values().map(|m| m.len()).sum::<usize>()
    );
    for (cat, provs) in &by_cat {
        let list: Vec<String> = provs.iter().map(|(p, n)| format!("{p} ({n})")).collect();
        s.push_str(&format!("| {cat} | {} |\n", list.join(", ")));
    }
    s
}

#[test]
fn readme_rule_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (start, end) = ("<!-- rules-table:start -->\n", "<!-- rules-table:end -->");
    let a = readme.find(start).expect("start marker") + start.len();
    let b = readme.find(end).expect("end marker");
    let want = table();
    if readme[a..b] != want {
        if std::env::var_os("KEYSWEEP_BLESS").is_some() {
            std::fs::write(path, format!("{}{}{}", &readme[..a], want, &readme[b..]))
                .expect("write README");
        } else {
            panic!("README rule table is stale; run KEYSWEEP_BLESS=1 cargo test --test readme");
        }
    }
}
