//! The main crate's README with its `rust,ignore` recipes (those that need
//! grammers, frankenstein or axum, which only this crate has) made runnable, for
//! `src/lib.rs` to run as doctests.

fn main() {
    let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    println!("cargo::rerun-if-changed={}", readme.display());
    let text = std::fs::read_to_string(&readme).expect("the main crate's README");
    let runnable = text.replace("```rust,ignore", "```rust");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("README.md");
    std::fs::write(out, runnable).expect("OUT_DIR is writable");
}
