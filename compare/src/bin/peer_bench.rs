//! The library's side of `compare/peers.sh`: writes the shared payloads for
//! another implementation to time, and times this crate on them.
//!
//! ```text
//! cargo run --release -p telegram-passport-compare --bin peer_bench -- write DIR   # DIR/cases.json and the payloads
//! cargo run --release -p telegram-passport-compare --bin peer_bench -- time DIR [N] # one JSON line per case (or case N): median ns
//! ```
//!
//! Both sides time the same work from the same bytes: parse the input, then
//! decrypt, verify and decode it; each run is timed on its own, after warm-up
//! runs, and the median is reported.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine as _;
use telegram_passport::{
    decrypt, EncryptedCredentials, FileCredentials, NonceCheck, PassportData, PrivateKey, Secret, Sha256Hash,
};

#[path = "../../../benches/payloads/mod.rs"]
mod payloads;

use payloads::Failure;

const USAGE: &str = "usage: peer_bench write DIR | peer_bench time DIR [N] | peer_bench backend\n\n\
    write:   the payloads and DIR/cases.json, for another implementation to time\n\
    time:    this crate's median time per case (or case N of cases.json), one JSON line each\n\
    backend: the backend this build decrypts with";

/// How long to spend timing each case, and the bounds on its run count.
const BUDGET_NS: u128 = 1_000_000_000;
const RUNS: (u128, u128) = (15, 2_000);

/// Median over runs of `run`, which times itself (so that it can prepare
/// its input off the clock), after warm-up runs. Returns (median, runs).
fn median_ns(mut run: impl FnMut() -> Result<u128, Failure>) -> Result<(u128, u128), Failure> {
    let warm_up: u128 = (0..3).map(|_| run()).sum::<Result<_, _>>()?;
    let runs = (BUDGET_NS / (warm_up / 3).max(1)).clamp(RUNS.0, RUNS.1);
    let mut times = (0..runs).map(|_| run()).collect::<Result<Vec<_>, _>>()?;
    times.sort_unstable();
    Ok((times[times.len() / 2], runs))
}

/// Times one call of `f`. What it returns is dropped after the clock stops,
/// on both sides: dropping a decrypted file zeroizes it here and frees it
/// there, which is not decryption.
fn timed<T>(f: impl FnOnce() -> Result<T, Failure>) -> Result<u128, Failure> {
    let start = Instant::now();
    let result = black_box(f()?);
    let elapsed = start.elapsed().as_nanos();
    drop(result);
    Ok(elapsed)
}

fn field<'a>(case: &'a serde_json::Value, name: &str) -> Result<&'a str, Failure> {
    case[name]
        .as_str()
        .ok_or_else(|| format!("cases.json: a case without {name:?}").into())
}

fn time_case(dir: &Path, case: &serde_json::Value) -> Result<(u128, u128), Failure> {
    let input = std::fs::read(dir.join(field(case, "input")?))?;
    let key = || -> Result<PrivateKey, Failure> {
        Ok(PrivateKey::from_pem(&std::fs::read_to_string(
            dir.join(field(case, "key")?),
        )?)?)
    };
    match field(case, "kind")? {
        "credentials" => {
            let key = key()?;
            median_ns(|| {
                timed(|| {
                    let credentials: EncryptedCredentials = serde_json::from_slice(black_box(&input))?;
                    Ok(credentials.decrypt(&key)?)
                })
            })
        }
        "passport" => {
            let key = key()?;
            median_ns(|| {
                timed(|| {
                    let data = PassportData::from_json(black_box(&input))?;
                    Ok(decrypt(&key, &data, NonceCheck::Skip)?)
                })
            })
        }
        "file" => {
            let b64 = |name| -> Result<Vec<u8>, Failure> {
                Ok(base64::engine::general_purpose::STANDARD.decode(field(case, name)?)?)
            };
            let hash = Sha256Hash::from_slice(&b64("hash")?).ok_or("hash: not 32 bytes")?;
            let secret = Secret::from_slice(&b64("secret")?).ok_or("secret: not 32 bytes")?;
            let credentials = FileCredentials::new(hash, secret);
            median_ns(|| {
                // The copy stands for the downloaded buffer, which decryption
                // reuses in place; it is made before the clock starts.
                let downloaded = input.clone();
                timed(|| Ok(credentials.decrypt(downloaded)?))
            })
        }
        other => Err(format!("cases.json: unknown kind {other:?}").into()),
    }
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["write", dir] => {
            let cases = payloads::write_all(Path::new(dir))?;
            eprintln!("wrote {} cases to {dir}/cases.json", cases.len());
        }
        ["time", dir, ref only @ ..] if only.len() <= 1 => {
            let dir = PathBuf::from(dir);
            let mut cases: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(dir.join("cases.json"))?)?;
            if let [index] = only {
                let index: usize = index.parse()?;
                cases = cases.get(index).cloned().into_iter().collect();
                if cases.is_empty() {
                    return Err(format!("no case {index} in cases.json").into());
                }
            }
            for case in &cases {
                let (median, runs) = time_case(&dir, case)?;
                let line = serde_json::json!({"case": case["case"], "median_ns": median, "runs": runs});
                println!("{line}");
            }
        }
        ["backend"] => println!("{}", telegram_passport::backend_name()),
        ["--help" | "-h"] => println!("{USAGE}"),
        _ => {
            eprintln!("peer_bench: unexpected arguments {args:?}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
