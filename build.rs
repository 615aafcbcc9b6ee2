//! Lets a test that cannot run on this machine say so in the test summary.
//!
//! The Redis tests start their own `redis-server`; where it is not
//! installed, this sets `cfg(no_redis_server)` and those tests show as
//! "ignored, needs redis-server" instead of passing without running. Under
//! `CI` nothing is left out: a missing `redis-server` fails its tests.
//! Nothing in the library itself reads the cfg.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_redis_server)");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    let installed = |tool: &str| {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
    };
    let redis = installed("redis-server") && installed("redis-cli");
    if !(ci || redis) {
        println!("cargo::rustc-cfg=no_redis_server");
    }
}
