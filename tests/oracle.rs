//! Differential test: 1,500 random quote requests (every rule kind and option, twelve zones plus
//! months whose first local midnight is repeated, displaced, skipped or in a DST gap, six currencies, the four rounding modes, plan histories and invoiced fees), each computed
//! by the real `sla-credit quote` and by an independent reference written from docs/rules.md
//! alone (`tests/oracle/reference.py`: Python fractions and zoneinfo), compared figure by figure.
//! Needs `python3` (3.9+ for zoneinfo).

use std::path::Path;
use std::process::Command;

#[test]
fn random_requests_agree_with_the_independent_reference() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/differential.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_sla-credit"))
        .args(["20261127", "1500"])
        .output()
        .expect("python3 runs the reference (tests/oracle/differential.py)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "engine and reference differ:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    // Most requests must be within the reference's reach, or the test proves little.
    let passed: usize = stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= 1_400,
        "only {passed} requests compared:\n{stdout}"
    );
}
