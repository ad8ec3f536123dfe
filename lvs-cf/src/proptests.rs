//! Properties over generated models and texts (a few thousand cases each).

use proptest::prelude::*;

use crate::strategy::{self, ugly_text_options};
use crate::{parse_bytes, parse_with, validate, write, ParseError, ParseOptions, Parsed, Reparser, Services};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn lenient() -> ParseOptions<'static> {
    ParseOptions {
        strict: false,
        services: Some(Services::builtin()),
    }
}

proptest! {
    #![proptest_config(config(4096))]

    /// The strategy's models are valid, so the round trip must hold for them.
    #[test]
    fn generated_models_are_valid(c in strategy::config()) {
        let errors: Vec<_> = validate(&c, None).into_iter().filter(|d| d.is_error()).collect();
        prop_assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn parse_of_write_is_the_model(c in strategy::config()) {
        let text = write(&c);
        let parsed = parse_with(&text, &lenient());
        prop_assert!(parsed.is_ok(), "{}\n{}", text, parsed.err().map(|e| e.to_string()).unwrap_or_default());
        let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed.config, &c, "{}", text);
        // Writing is canonical: the same model gives the same text.
        prop_assert_eq!(write(&parsed.config), text);
    }

    /// The editing API keeps every block, check blocks included.
    #[test]
    fn an_edit_document_reads_back_to_its_model(c in strategy::config()) {
        prop_assert_eq!(crate::edit::Document::of(&c).check(), Ok(c));
    }

    #[test]
    fn ugly_texts_mean_their_model(pair in strategy::ugly_text()) {
        let (c, text) = pair;
        let parsed = parse_with(&text, &ugly_text_options());
        prop_assert!(parsed.is_ok(), "{:?}\n{}", text, parsed.err().map(|e| e.to_string()).unwrap_or_default());
        let parsed = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed.config, &c, "{:?}", text);
    }

    #[test]
    fn the_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for strict in [false, true] {
            let _ = parse_bytes(&bytes, &ParseOptions { strict, services: Some(Services::builtin()) });
        }
    }

    /// Mutated texts: no panic; errors point into the input; and whatever
    /// parses without validation errors writes back to the same model.
    #[test]
    fn the_parser_never_panics_on_mutated_texts(bytes in strategy::mutated_text()) {
        for strict in [false, true] {
            match parse_bytes(&bytes, &ParseOptions { strict, services: Some(Services::builtin()) }) {
                Err(e) => {
                    let lines = bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() + 1;
                    prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e}");
                    let _ = e.to_string();
                }
                Ok(parsed) if parsed.diagnostics().iter().all(|d| !d.is_error()) => {
                    let text = write(&parsed.config);
                    let again = parse_with(&text, &lenient()).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
                    prop_assert_eq!(again.config, parsed.config, "{}", text);
                }
                Ok(_) => {}
            }
        }
    }
}

/// A reparser that read one text reads the next exactly as a fresh parse
/// does, whatever the two texts (errors included). Two text strategies make
/// stack frames too large for a test thread in debug builds, hence the
/// runner on a thread of its own.
#[test]
fn a_reparser_reads_each_version_as_a_fresh_parse() {
    let run = || {
        let mut runner = proptest::test_runner::TestRunner::new(config(512));
        let texts = (strategy::mutated_text(), strategy::ugly_text(), any::<bool>());
        let result = runner.run(&texts, |(first, (_, second), strict)| {
            let options = ParseOptions {
                strict,
                services: Some(Services::builtin()),
            };
            let mut reparser = Reparser::default();
            let second = second.into_bytes();
            for bytes in [&first, &second, &first] {
                let cached = outcome(reparser.parse_bytes(bytes, &options));
                prop_assert_eq!(cached, outcome(parse_bytes(bytes, &options)));
            }
            Ok(())
        });
        result.map_err(|e| e.to_string())
    };
    let outcome = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .expect("a test thread")
        .join()
        .expect("the property runs to its end");
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

/// What a parse gave, in a comparable form.
fn outcome(
    result: Result<Parsed, ParseError>,
) -> Result<(crate::Config, crate::SourceMap, Vec<String>), ParseError> {
    result.map(|p| {
        (
            p.config,
            p.source_map,
            p.warnings.iter().map(|w| w.to_string()).collect(),
        )
    })
}

proptest! {
    #![proptest_config(config(1024))]

    /// Piranha's syntax for models that use no extension: the strict parser
    /// reads the canonical text to the same model.
    #[test]
    fn strict_reads_the_canonical_text_of_piranha_models(c in strategy::piranha_config()) {
        let errors: Vec<_> = validate(&c, None).into_iter().filter(|d| d.is_error()).collect();
        prop_assert!(errors.is_empty(), "{errors:?}");
        let text = write(&c);
        let parsed = parse_with(&text, &ParseOptions { strict: true, services: Some(Services::builtin()) })
            .map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
        prop_assert_eq!(parsed.config, c);
    }
}

/// Blocks read before come back with their lines where the new text has
/// them: after lines are added above, inside or between blocks.
#[test]
fn a_reparser_moves_remembered_blocks_to_their_new_lines() {
    let block = |name: &str, port: u16| {
        format!(
            "virtual {name} {{\n active = 1\n address = 192.0.2.{port} eth0:1\n port = {port}\n\
             server a {{\n address = 10.0.0.1\n active = 1\n }}\n}}\n"
        )
    };
    let first = format!(
        "primary = 192.0.2.1\n{}{}{}",
        block("a", 80),
        block("b", 81),
        block("c", 82)
    );
    let versions = [
        first.clone(),
        format!("# added\n\n{first}"),
        format!(
            "primary = 192.0.2.1\n{}\n# between\n{}{}",
            block("a", 80),
            block("b", 81),
            block("c", 82)
        ),
        first.replace(" port = 81\n", " port = 81\n reentry = 30\n"),
        // A server before `port` gives a warning quoting a line number.
        first.replace(
            " port = 82\n server a {\n address = 10.0.0.1\n active = 1\n }\n",
            " server a {\n address = 10.0.0.1\n active = 1\n }\n port = 82\n",
        ),
        format!(
            "\n\n\n{}",
            first.replace(
                " port = 82\n server a {\n address = 10.0.0.1\n active = 1\n }\n",
                " server a {\n address = 10.0.0.1\n active = 1\n }\n port = 82\n"
            )
        ),
        first,
    ];
    let options = lenient();
    let mut reparser = Reparser::default();
    for text in &versions {
        let cached = outcome(reparser.parse_bytes(text.as_bytes(), &options));
        assert_eq!(cached, outcome(parse_bytes(text.as_bytes(), &options)), "{text}");
    }
}
