use super::*;
use crate::{Format, ReportOptions};
use keysweep_model::{Location, Verification};

const SECRET: &str = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";

fn location(path: &str, meta: &[(&str, Value)]) -> Location {
    Location {
        source: "git".into(),
        path: path.into(),
        line: 3,
        column: 7,
        byte_start: 0,
        byte_end: 1,
        ignored: false,
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn finding(provider: &str, locations: Vec<Location>) -> Finding {
    Finding {
        rule_id: "openai.project-key".into(),
        rule_name: "OpenAI project key".into(),
        provider: provider.into(),
        category: "ai".into(),
        confidence: "high".into(),
        score: None,
        fingerprint: keysweep_model::fingerprint("openai.project-key", SECRET.as_bytes()),
        secret: SECRET.into(),
        redacted: false,
        entropy: 4.5,
        locations,
        verification: None,
        description: Some("A <b>project</b> key".into()),
        rotation_url: Some("https://platform.openai.com/api-keys".into()),
        triage: None,
    }
}

fn render(findings: &[Finding], show_secrets: bool) -> String {
    let mut out = Vec::new();
    let opts = ReportOptions {
        format: Format::Html,
        show_secrets,
        ..Default::default()
    };
    crate::write(
        &mut out,
        findings,
        &ScanSummary::default(),
        &opts,
        &crate::Redactor::default(),
    )
    .expect("render");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn user_controlled_text_is_escaped() {
    let f = finding(
        "OpenAI\"><svg onload=alert(3)>",
        vec![location(
            "src/<script>alert(1)</script>.py",
            &[
                ("commit", "0123abcd".into()),
                ("author", "Mallory <m@evil.example>".into()),
                ("summary", "\"><img src=x onerror=alert(2)>".into()),
                ("date", "2024-03-01T10:00:00+00:00".into()),
            ],
        )],
    );
    let html = render(&[f], false);
    assert!(
        !html.contains("<script>alert(1)"),
        "path reached the page raw"
    );
    assert!(
        html.contains("src/&#60;script&#62;alert(1)&#60;/script&#62;.py")
            || html.contains("src/&lt;script&gt;")
    );
    assert!(
        !html.contains("<img src=x"),
        "commit message reached the page raw"
    );
    assert!(
        !html.contains("<svg onload"),
        "provider reached the page raw"
    );
    assert!(!html.contains("<m@evil.example>"));
    assert!(
        !html.contains("<b>project</b>"),
        "rule description reached the page raw"
    );
    // The only <script> is the report's own.
    assert_eq!(html.matches("<script").count(), 1);
}

#[test]
fn secrets_are_redacted_unless_show_secrets() {
    let f = finding("OpenAI", vec![location("a.py", &[])]);
    let html = render(std::slice::from_ref(&f), false);
    assert!(!html.contains(SECRET));
    assert!(html.contains(&keysweep_model::redact(SECRET)));
    let html = render(&[f], true);
    assert!(html.contains(SECRET));
}

#[test]
fn rows_statuses_links_and_provenance() {
    let mut a = finding(
        "OpenAI",
        vec![
            location("a.py", &[("date", "2023-01-05T00:00:00Z".into())]),
            location("b.py", &[("date", "2023-04-05T00:00:00Z".into())]),
        ],
    );
    a.verification = Some(Verification {
        status: "live".into(),
        detail: None,
        identity: Some("org-123".into()),
    });
    let mut b = finding("Evil", vec![location("c.py", &[("cell", 4.into())])]);
    b.rotation_url = Some("javascript:alert(1)".into());
    let mut img = location("app/.env", &[("layer", 1.into())]);
    img.source = "image".into();
    img.meta.image_mut().deleted_in_layer = Some(2);
    let c = finding("Stripe", vec![img]);
    let (fa, fb, fc) = (a, b, c);
    let entries = [
        Entry::new(&fa),
        Entry {
            finding: &fb,
            status: Some("false-positive"),
            repository: Some("org/repo"),
        },
        Entry::new(&fc),
    ];
    let mut out = Vec::new();
    write(&mut out, &entries, &ScanSummary::default()).expect("render");
    let html = String::from_utf8(out).expect("utf-8");
    assert_eq!(html.matches("<tbody class=\"f\"").count(), 3);
    assert_eq!(html.matches("data-status=\"|open|\"").count(), 2);
    assert!(html.contains("data-status=\"|false-positive|\""));
    assert!(html.contains("<option>org/repo</option>"));
    assert!(html.contains("href=\"https://platform.openai.com/api-keys\""));
    assert!(
        !html.contains("javascript:alert"),
        "non-https rotation link kept"
    );
    assert!(html.contains("data-source=\"|notebook|\""));
    assert!(html.contains("deleted in layer 2"));
    assert!(html.contains("Notebook cell"));
    assert!(html.contains("First seen over time"));
    assert!(
        html.contains("2023-01"),
        "timeline starts at the earliest date"
    );
    assert!(html.contains(">live</span>"));
    // Self-contained: no external fetches.
    assert!(!html.contains("src=\"http"));
    assert!(!html.contains("<link"));
}

#[test]
fn timeline_fills_gaps_and_switches_to_years() {
    let t = charts::timeline(&["2024-11-02", "2025-01-09", "2025-01-10"]);
    assert_eq!(
        t,
        vec![
            ("2024-11".to_string(), 1),
            ("2024-12".to_string(), 0),
            ("2025-01".to_string(), 2)
        ]
    );
    let t = charts::timeline(&["2015-01-01", "2025-01-01"]);
    assert_eq!(t.len(), 11);
    assert_eq!(t[0], ("2015".to_string(), 1));
}
