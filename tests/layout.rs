//! The source stays free of import cycles: no two files of `src/` import each other, directly
//! or in a loop, and every import between top-level modules goes one way
//! (`scripts/import_cycles.py`).

use std::process::Command;

#[test]
fn no_file_or_module_imports_itself_in_a_loop() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/scripts/import_cycles.py"))
        .output()
        .expect("python3 runs scripts/import_cycles.py");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(": 0 file-level cycles, 0 two-way module imports"),
        "{text}"
    );
}
