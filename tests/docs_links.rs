//! The project's documentation stands alone: every relative link in README.md,
//! assets/README.md and docs/ names a file in the repository, and none points outside it
//! (`docs/check_links.py`).

use std::process::Command;

#[test]
fn every_documentation_link_stays_in_the_repository() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/docs/check_links.py"))
        .current_dir(root)
        .output()
        .expect("python3 runs docs/check_links.py");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(", 0 bad links"), "{text}");
}
