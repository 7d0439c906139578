//! Job-file loading and validation over arbitrary TOML, YAML and JSON: a
//! bad job is a list of problems, never a panic. TOML inputs follow a
//! database URL with a password, which no problem may show (a syntax error
//! on or after the `url` line quotes the line).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::config;

const PASSWORD: &str = "Zq9xPw7";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let ext = ["toml", "yaml", "json"][pick as usize % 3];
    let mut job = Vec::new();
    if ext == "toml" {
        job.extend_from_slice(
            format!("[database]\nurl = \"postgres://lt:{PASSWORD}@db/x").as_bytes(),
        );
    }
    job.extend_from_slice(text);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("job.{ext}"));
    std::fs::write(&path, &job).unwrap();
    let given_elsewhere = text.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes());
    if let Err(problems) = config::load(&path, &config::Overrides::default()) {
        for p in &problems.0 {
            assert!(given_elsewhere || !p.contains(PASSWORD), "{p}");
        }
    }
});
