//! `cargo fuzz run parse`: the parser, both dialects, on any bytes. Whatever
//! parses must validate, write, and parse back to the same model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs_cf::{parse_bytes, parse_with, write, ParseOptions, Services};

fuzz_target!(|data: &[u8]| {
    for strict in [false, true] {
        let options = ParseOptions { strict, services: Some(Services::builtin()) };
        let Ok(parsed) = parse_bytes(data, &options) else { continue };
        let diagnostics = parsed.diagnostics();
        if diagnostics.iter().any(|d| d.is_error()) {
            continue;
        }
        let text = write(&parsed.config);
        let lenient = ParseOptions { strict: false, services: Some(Services::builtin()) };
        match parse_with(&text, &lenient) {
            Ok(again) => assert_eq!(again.config, parsed.config, "write/parse changed the model:\n{text}"),
            Err(e) => panic!("the canonical text does not parse:\n{text}\n{e}"),
        }
    }
});
