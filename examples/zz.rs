//! scratch
use std::time::Instant;
use telegram_passport::{client, FileCredentials};
fn main() {
    let size = 10 << 20;
    let enc = client::encrypt(&vec![0x5a; size]).unwrap();
    let cred = FileCredentials::new(enc.hash, enc.secret.clone());
    let mut buf = enc.data.clone();
    let mut times = vec![];
    for _ in 0..30 {
        buf.copy_from_slice(&enc.data);
        let t = Instant::now();
        cred.decrypt_in_place(&mut buf).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "median {:.3} ms min {:.3} all {:?}",
        times[15],
        times[0],
        times.iter().map(|t| (t * 10.0).round() / 10.0).collect::<Vec<_>>()
    );
}
