//! Job-file loading and validation over arbitrary TOML, YAML and JSON: a
//! bad job is a list of problems, never a panic, and no problem shows a
//! password given in the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrack::config;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let ext = ["toml", "yaml", "json"][pick as usize % 3];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("job.{ext}"));
    std::fs::write(&path, text).unwrap();
    if let Err(problems) = config::load(&path, &config::Overrides::default()) {
        for p in &problems.0 {
            assert!(!p.contains("fuzz-s3cret"), "{p}");
        }
    }
});
