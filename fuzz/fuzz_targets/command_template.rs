//! Command templates (`keyplane_core::template::CommandTemplate`): splitting an operator's
//! text into words and expanding placeholders. Nothing may panic; the stored words must load
//! back to an equal template; expansion with registry-shaped names gives one argument per word,
//! none containing NUL, and no longer in total than the words plus the names substituted.

#![no_main]

use keyplane_core::template::{CommandTemplate, TemplateValues};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(template) = CommandTemplate::parse(text) else {
        return;
    };
    let words = template.words();
    match CommandTemplate::from_words(words.clone()) {
        Ok(again) => assert_eq!(again, template, "the stored words {words:?} changed it"),
        Err(error) => panic!("the stored words {words:?} do not load: {error:?}"),
    }
    let values = TemplateValues {
        cluster: "cn-hangzhou",
        service: "demo-service",
        instance: "demo-service-7d9f-abcde",
        worker: "worker0",
    };
    let arguments = template.expand(&values);
    assert_eq!(arguments.len(), words.len(), "one argument per word");
    assert!(!arguments[0].is_empty(), "an empty program");
    assert!(
        arguments.iter().all(|argument| !argument.contains('\0')),
        "an argument with NUL"
    );
    let longest_value = 32;
    let bound: usize = words
        .iter()
        .map(|word| word.len() * (1 + longest_value))
        .sum();
    let total: usize = arguments.iter().map(String::len).sum();
    assert!(total <= bound, "{total} bytes of arguments from {bound}");
    let _ = template.placeholders();
});
