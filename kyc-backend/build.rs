//! The same `cfg(no_…)` flags as the library's tests get (see the
//! library's build.rs): a test whose tool is missing shows as ignored,
//! naming the tool, and under `CI` fails instead.

#[path = "../build.rs"]
mod tools;

fn main() {
    tools::main();
}
