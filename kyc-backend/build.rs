//! The same `cfg(no_…)` flags as the library's tests get (see the
//! library's build.rs): a test whose tool is missing shows as ignored,
//! naming the tool, and under `CI` fails instead.

#[path = "../build.rs"]
mod tools;

fn main() {
    // The library's script prints its own rerun conditions, so cargo would
    // not run this one again when the file it includes changes.
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=../build.rs");
    tools::main();
}
