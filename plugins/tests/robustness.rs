//! Mutation smoke test: OpenKAT's fixtures with random bytes flipped, cut or
//! spliced, through both normalizers and the reference parser. Every input
//! must give objects or an error, never a panic. Deterministic (a fixed-seed
//! xorshift), so a failure reproduces; `KAT_MUTATIONS` raises the count.

use std::path::PathBuf;

use kat_core::Reference;
use kat_plugins::normalizers::all;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(4) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            1 if !out.is_empty() => {
                let cut = rng.below(out.len());
                out.truncate(cut);
            }
            2 => {
                let i = rng.below(out.len() + 1);
                let tokens: [&[u8]; 6] = [b"\n", b"\\n;ANSWER\\n", b" IN A ", b"\"", b"<port portid=\"1\">", b"|"];
                let token = tokens[rng.below(tokens.len())];
                out.splice(i..i, token.iter().copied());
            }
            _ if out.len() > 2 => {
                let a = rng.below(out.len());
                let b = rng.below(out.len());
                out.swap(a, b);
            }
            _ => {}
        }
    }
    out
}

#[test]
fn mutated_raw_files_never_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/openkat");
    let seeds: Vec<Vec<u8>> = ["dns-result-example.nl.json", "dns-result-www.example.nl.json", "nmap_mispoes.xml"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("fixture {f} missing ({e}): shared/ must sit beside the repository")))
        .collect();
    let rounds: usize = std::env::var("KAT_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let input = Reference::parse("Hostname|internet|example.nl").expect("valid");
    let normalizers = all();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut refused) = (0, 0);
    for round in 0..rounds {
        let seed = &seeds[round % seeds.len()];
        let raw = mutate(&mut rng, seed);
        for n in &normalizers {
            match n.normalize(&input, &raw) {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    refused += 1;
                }
            }
        }
        let text = String::from_utf8_lossy(&raw[..raw.len().min(80)]).into_owned();
        let _ = Reference::parse(&text);
    }
    assert!(ok > 0 && refused > 0, "mutations should both pass and fail: {ok} ok, {refused} refused");
}
