//! Lets a test that cannot run on this machine say so in the test summary.
//!
//! The Redis tests start their own `redis-server`; where it is not
//! installed, this sets `cfg(no_redis_server)` and those tests show as
//! "ignored, needs redis-server" instead of passing without running; the
//! PostgreSQL tests start their own server the same way, and without
//! PostgreSQL's server programs `cfg(no_postgres_server)` shows them as
//! "ignored, needs postgresql". The
//! PKCS#11 tests make their own SoftHSM2 tokens; where `softhsm2-util` or
//! SoftHSM2's module is missing, `cfg(no_softhsm)` shows them as "ignored,
//! needs SoftHSM2". The applicant's page is tested in a headless Chromium;
//! without `chromium`, `cfg(no_chromium)` shows that test as "ignored,
//! needs chromium". The setup check's test of keys made wrongly the usual
//! ways makes them with `openssl` and `ssh-keygen`; without either,
//! `cfg(no_key_tools)` shows it as "ignored, needs openssl and ssh-keygen".
//! The fault-injection tests (the decrypt tool's, the KYC service's) run
//! their processes under `strace`; without it, `cfg(no_strace)` shows them
//! as "ignored, needs strace". The KYC service's applications encrypted at
//! rest are decrypted with the `age` tool, as a reviewer would; without
//! it, `cfg(no_age)` shows that test as "ignored, needs age". Its
//! applications committed to object storage go to a real S3-compatible
//! server, `moto_server`; without it, `cfg(no_s3_server)` shows those
//! tests as "ignored, needs moto_server"; and to Azurite, the Azure Blob
//! Storage emulator (`azurite-blob`, run by Node.js); without it,
//! `cfg(no_azurite)` shows those as "ignored, needs azurite".
//! Under `CI` nothing is left out: a missing tool fails its tests. Nothing in the library itself reads these cfgs.
//! The KYC service's package (kyc-backend/build.rs) includes this file.

pub(crate) fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_redis_server)");
    println!("cargo::rustc-check-cfg=cfg(no_postgres_server)");
    println!("cargo::rustc-check-cfg=cfg(no_age)");
    println!("cargo::rustc-check-cfg=cfg(no_s3_server)");
    println!("cargo::rustc-check-cfg=cfg(no_azurite)");
    println!("cargo::rustc-check-cfg=cfg(no_softhsm)");
    println!("cargo::rustc-check-cfg=cfg(no_chromium)");
    println!("cargo::rustc-check-cfg=cfg(no_key_tools)");
    println!("cargo::rustc-check-cfg=cfg(no_strace)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=SOFTHSM2_MODULE");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    let installed = |tool: &str| {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
    };
    let redis = installed("redis-server") && installed("redis-cli");
    if !(ci || redis) {
        println!("cargo::rustc-cfg=no_redis_server");
    }
    // Where dev-support/src/postgres_server.rs looks for initdb and postgres.
    let postgres = (installed("initdb") && installed("postgres"))
        || std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .any(|version| version.path().join("bin/initdb").is_file());
    if !(ci || postgres) {
        println!("cargo::rustc-cfg=no_postgres_server");
    }
    // The places dev-support/src/softhsm.rs looks for the module.
    let module = std::env::var_os("SOFTHSM2_MODULE").is_some()
        || [
            "/usr/lib/softhsm/libsofthsm2.so",
            "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
            "/usr/local/lib/softhsm/libsofthsm2.so",
            "/opt/homebrew/lib/softhsm/libsofthsm2.so",
        ]
        .iter()
        .any(|path| std::path::Path::new(path).is_file());
    if !(ci || (installed("softhsm2-util") && module)) {
        println!("cargo::rustc-cfg=no_softhsm");
    }
    if !(ci || installed("chromium")) {
        println!("cargo::rustc-cfg=no_chromium");
    }
    if !(ci || (installed("openssl") && installed("ssh-keygen"))) {
        println!("cargo::rustc-cfg=no_key_tools");
    }
    if !(ci || installed("moto_server")) {
        println!("cargo::rustc-cfg=no_s3_server");
    }
    if !(ci || (installed("azurite-blob") && installed("node"))) {
        println!("cargo::rustc-cfg=no_azurite");
    }
    if !(ci || installed("age")) {
        println!("cargo::rustc-cfg=no_age");
    }
    if !(ci || installed("strace")) {
        println!("cargo::rustc-cfg=no_strace");
    }
}
