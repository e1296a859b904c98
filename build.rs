//! Link options for the jitterplay executable.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        // Relative relocations packed as bitmaps (DT_RELR, glibc 2.36 and binutils 2.38 on):
        // the executable's 11,700 of them take 24 bytes each in .rela.dyn, which the loader
        // reads at every start, 280 KiB resident in every process.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
